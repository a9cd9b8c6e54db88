import AuthCrypto

/// The token check every call of a signed-in user makes: a token becomes its session and
/// its user, current as of this call (a blocked or deleted user's session fails at once,
/// not at its expiry). Answered from the `SessionCache` when the session is there; a miss
/// reads the store and fills the cache. The use of the session is noted for the
/// `SessionToucher`, never written on the answer's path.
public struct SessionAuthenticator: Sendable {
    let sessions: any SessionStore
    let cache: SessionCache
    let toucher: SessionToucher
    let clock: any WallClock
    let policy: SessionPolicy
    let metrics: DomainMetrics

    public init(
        sessions: any SessionStore, cache: SessionCache, toucher: SessionToucher, clock: any WallClock, policy: SessionPolicy,
        metrics: DomainMetrics = .disabled
    ) {
        self.sessions = sessions
        self.cache = cache
        self.toucher = toucher
        self.clock = clock
        self.policy = policy
        self.metrics = metrics
    }

    /// What memory alone says about a token.
    private enum MemoryAnswer {
        case valid(AuthenticatedSession)
        /// Malformed, or a cached session that has expired.
        case invalid
        /// Not in the cache: ask `authenticate(token:)`.
        case unknown
    }

    /// What memory alone says about a token, for a caller that answers with bytes.
    public enum KeptAnswer: Sendable {
        case valid([UInt8])
        /// Malformed, or a cached session that has expired.
        case invalid
        /// Not in the cache: ask `authenticate(token:)`.
        case unknown
    }

    /// The token check from memory for a caller whose answer is bytes derived from the
    /// session's user, `basis` (whatever else it depends on: the directory snapshot) and
    /// `key` alone. The bytes are kept with the cached session under `key`, so that
    /// repeated checks of one token derive them once and copy out no user; they go with
    /// the session's entry (every revocation or change of the user drops it), and a new
    /// `basis` derives them again. `derive` must not depend on the session's times.
    public func answerFromMemory(
        token: String,
        key: KeptAnswerKey,
        basis: AnyObject,
        derive: (AuthenticatedSession) throws(AuthError) -> [UInt8]
    ) throws(AuthError) -> KeptAnswer {
        guard looksLikeToken(token) else {
            metrics.tokenCheck(.invalid)
            return .invalid
        }
        let tokenHash = SecretToken.hash(token)
        let now = clock.now
        switch cache.keptAnswer(for: tokenHash, key: key, basis: basis, at: now) {
        case .miss:
            return .unknown
        case .expired:
            cache.dropSession(tokenHash: tokenHash)
            metrics.tokenCheck(.invalid)
            return .invalid
        case .kept(let bytes, let times):
            metrics.tokenCheck(.ok)
            if now.since(times.lastSeenAt) >= policy.touchInterval {
                noteTouch(sessionID: times.id, tokenHash: tokenHash, absoluteExpiresAt: times.absoluteExpiresAt, at: now)
            }
            return .valid(bytes)
        case .found(let found, let entry):
            metrics.tokenCheck(.ok)
            let bytes = try derive(noteUse(of: found, at: now))
            cache.keep(bytes, key: key, basis: basis, with: entry, tokenHash: tokenHash)
            return .valid(bytes)
        }
    }

    private func answerFromMemory(tokenHash: [UInt8]) -> MemoryAnswer {
        guard let cached = cache.entry(for: tokenHash) else { return .unknown }
        let now = clock.now
        guard cached.session.idleExpiresAt > now, cached.session.absoluteExpiresAt > now else {
            cache.dropSession(tokenHash: tokenHash)
            metrics.tokenCheck(.invalid)
            return .invalid
        }
        metrics.tokenCheck(.ok)
        return .valid(noteUse(of: cached, at: now))
    }

    public func authenticate(token: String) async throws(AuthError) -> AuthenticatedSession {
        guard looksLikeToken(token) else {
            metrics.tokenCheck(.invalid)
            throw AuthError.invalidSession
        }
        // Hashed once: the cache and, on a miss, the store look up the same hash.
        let tokenHash = SecretToken.hash(token)
        switch answerFromMemory(tokenHash: tokenHash) {
        case .valid(let found):
            return found
        case .invalid:
            throw AuthError.invalidSession
        case .unknown:
            break
        }
        let now = clock.now
        let generation = cache.generation()
        let found: AuthenticatedSession?
        do throws(AuthError) {
            found = try await sessions.authenticate(tokenHash: tokenHash, at: now)
        } catch {
            metrics.tokenCheck(.error)
            throw error
        }
        guard let found else {
            metrics.tokenCheck(.invalid)
            throw AuthError.invalidSession
        }
        metrics.tokenCheck(.ok)
        cache.store(found, startedAt: generation)
        return noteUse(of: found, at: now)
    }

    /// Notes a touch when the last recorded use is older than the touch interval, and
    /// returns the session as the touch leaves it.
    private func noteUse(of found: consuming AuthenticatedSession, at now: Timestamp) -> AuthenticatedSession {
        guard now.since(found.session.lastSeenAt) >= policy.touchInterval else { return found }
        var touched = found
        touched.session.lastSeenAt = now
        touched.session.idleExpiresAt = noteTouch(
            sessionID: touched.session.id, tokenHash: touched.session.tokenHash,
            absoluteExpiresAt: touched.session.absoluteExpiresAt, at: now)
        return touched
    }

    /// Records a use of the session at `now` for the toucher and the cache; the new idle expiry.
    @discardableResult
    private func noteTouch(sessionID: Int64, tokenHash: [UInt8], absoluteExpiresAt: Timestamp, at now: Timestamp) -> Timestamp {
        let idleExpiresAt = min(now + policy.idleTimeout, absoluteExpiresAt)
        toucher.note(SessionTouch(sessionID: sessionID, lastSeenAt: now, idleExpiresAt: idleExpiresAt))
        cache.noteTouch(tokenHash: tokenHash, lastSeenAt: now, idleExpiresAt: idleExpiresAt)
        return idleExpiresAt
    }

    /// A cheap shape check that spares the store a lookup of garbage.
    func looksLikeToken(_ token: String) -> Bool {
        token.hasPrefix(policy.tokenPrefix) && token.utf8.count <= 256
    }

    /// A fresh token and the session to store for it.
    func makeSession(for userID: UserID, at now: Timestamp, clientAddress: String?) -> (token: String, session: NewSession) {
        let token = SecretToken.make(prefix: policy.tokenPrefix)
        let absolute = now + policy.absoluteTimeout
        let session = NewSession(
            userID: userID,
            tokenHash: SecretToken.hash(token),
            createdAt: now,
            idleExpiresAt: min(now + policy.idleTimeout, absolute),
            absoluteExpiresAt: absolute,
            clientAddress: clientAddress
        )
        return (token, session)
    }
}
