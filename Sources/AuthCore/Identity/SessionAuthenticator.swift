import AuthCrypto

/// The token check every call of a signed-in user makes: a token becomes its session and
/// its user, current as of this call (a blocked or deleted user's session fails at once,
/// not at its expiry). Stateless; the sessions live in the store.
public struct SessionAuthenticator: Sendable {
    let sessions: any SessionStore
    let clock: any WallClock
    let policy: SessionPolicy
    let metrics: DomainMetrics

    public init(sessions: any SessionStore, clock: any WallClock, policy: SessionPolicy, metrics: DomainMetrics = .disabled) {
        self.sessions = sessions
        self.clock = clock
        self.policy = policy
        self.metrics = metrics
    }

    public func authenticate(token: String) async throws(AuthError) -> AuthenticatedSession {
        do throws(AuthError) {
            let found = try await check(token)
            metrics.tokenCheck(.ok)
            return found
        } catch {
            metrics.tokenCheck(error == .invalidSession ? .invalid : .error)
            throw error
        }
    }

    private func check(_ token: String) async throws(AuthError) -> AuthenticatedSession {
        guard looksLikeToken(token) else {
            throw AuthError.invalidSession
        }
        let now = clock.now
        guard let found = try await sessions.authenticate(tokenHash: SecretToken.hash(token), at: now) else {
            throw AuthError.invalidSession
        }
        if now.since(found.session.lastSeenAt) >= policy.touchInterval {
            let idleExpiry = min(now + policy.idleTimeout, found.session.absoluteExpiresAt)
            try await sessions.touchSession(id: found.session.id, lastSeenAt: now, idleExpiresAt: idleExpiry)
        }
        return found
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
