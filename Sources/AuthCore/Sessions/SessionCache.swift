import Synchronization

/// Sessions that authenticated recently, by token hash, so that the token check every
/// call of a signed-in user makes (GetMe, AuthorizePage) is answered from memory: no
/// transaction, no thread hop.
///
/// Correctness comes first. Every write of the store that can change what an entry holds
/// goes through `CachingStorage`, which drops the entries it touches before it returns, so
/// a session revoked, a user blocked, deleted or changed is refused or reflected at the
/// very next call. A load that raced such a drop is not kept (the generation check). An
/// entry also lives at most `maximumAge`: the bound on staleness for a change this process
/// did not make (another process on the same database, until it tells us). Entries and
/// their bytes are bounded; beyond either an arbitrary entry makes room, and a session
/// whose user is larger than `maximumEntryBytes` is never held.
public final class SessionCache: Sendable {
    public struct Limits: Hashable, Sendable {
        /// At most this many sessions are held.
        public var maximumEntries: Int
        /// At most this many bytes (as `Entry.cost` counts them) over all entries.
        public var maximumBytes: Int
        /// A session whose entry would cost more is read from the store at every check.
        public var maximumEntryBytes: Int
        /// An entry older than this is loaded again.
        public var maximumAge: Duration

        public init(
            maximumEntries: Int = 100_000,
            maximumBytes: Int = 64 << 20,
            maximumEntryBytes: Int = 16 << 10,
            maximumAge: Duration = .seconds(30)
        ) {
            precondition(maximumEntries >= 0 && maximumBytes >= 0 && maximumEntryBytes >= 0 && maximumAge >= .zero)
            self.maximumEntries = maximumEntries
            self.maximumBytes = maximumBytes
            self.maximumEntryBytes = maximumEntryBytes
            self.maximumAge = maximumAge
        }

        public static var defaults: Self { Self() }
    }

    /// A cached session and when it was loaded (the monotonic clock: `maximumAge`).
    ///
    /// A class, so that a lookup takes one reference rather than a copy of the entry's every
    /// string and collection; `found` is read and written only under the cache's lock.
    final class Entry: @unchecked Sendable {
        var found: AuthenticatedSession
        let loadedAt: ContinuousClock.Instant
        var cost: Int
        /// Answers derived from `found.user` and `kept.basis`, by what they answer
        /// (`SessionAuthenticator.answerFromMemory(token:key:basis:derive:)`); at most
        /// `SessionCache.maximumKeptAnswers`.
        var kept: (basis: AnyObject, answers: [KeptAnswerKey: [UInt8]])?

        init(found: AuthenticatedSession, loadedAt: ContinuousClock.Instant, cost: Int) {
            self.found = found
            self.loadedAt = loadedAt
            self.cost = cost
        }

        /// What the entry holds, counted generously: its strings' bytes plus a fixed
        /// overhead per object (headers, dictionary slots, the index by user).
        static func cost(of found: AuthenticatedSession) -> Int {
            let user = found.user
            var bytes = 512 + user.id.rawValue.utf8.count + user.email.utf8.count
            for (name, value) in user.attributes { bytes += 64 + name.utf8.count + value.utf8.count }
            for role in user.roles { bytes += 48 + role.utf8.count }
            return bytes
        }
    }

    private struct State {
        var entries: [TokenKey: Entry] = [:]
        var bytes = 0
        var tokensOfUser: [UserID: Set<TokenKey>] = [:]
        /// Bumped by every drop, so that a load that started before one is not kept.
        var generation: UInt64 = 0
    }

    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits = .defaults) {
        self.limits = limits
    }

    /// The cached session for `tokenHash`, if it is there and young enough. The caller
    /// checks expiry against its clock.
    func entry(for tokenHash: [UInt8]) -> AuthenticatedSession? {
        guard let key = TokenKey(tokenHash) else { return nil }
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            guard now - entry.loadedAt < limits.maximumAge else {
                Self.remove(key, from: &state)
                return nil
            }
            return entry.found
        }
    }

    /// What a lookup for a kept answer finds.
    enum KeptLookup {
        case miss
        /// There, but past one of its expiries at `now`.
        case expired
        /// The answer kept for the key and basis asked for, and the session's times for its touch.
        case kept([UInt8], SessionTimes)
        /// No answer kept for that key and basis: the session, to derive one from, and its entry.
        case found(AuthenticatedSession, Entry)
    }

    /// What the touch of a session needs, copied out without its strings.
    struct SessionTimes {
        let id: Int64
        let lastSeenAt: Timestamp
        let idleExpiresAt: Timestamp
        let absoluteExpiresAt: Timestamp
    }

    /// The answer `key` kept for `basis` with the cached session of `tokenHash`, checked for
    /// expiry at `now` under the lock: a hit copies out one array, not the user.
    func keptAnswer(for tokenHash: [UInt8], key: KeptAnswerKey, basis: AnyObject, at now: Timestamp) -> KeptLookup {
        guard let token = TokenKey(tokenHash) else { return .miss }
        let monotonicNow = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[token] else { return .miss }
            guard monotonicNow - entry.loadedAt < limits.maximumAge else {
                Self.remove(token, from: &state)
                return .miss
            }
            // Field by field: a copy of the session record would retain its strings.
            let (idleExpiresAt, absoluteExpiresAt) = (entry.found.session.idleExpiresAt, entry.found.session.absoluteExpiresAt)
            guard idleExpiresAt > now, absoluteExpiresAt > now else { return .expired }
            if let kept = entry.kept, kept.basis === basis, let bytes = kept.answers[key] {
                return .kept(bytes, SessionTimes(
                    id: entry.found.session.id, lastSeenAt: entry.found.session.lastSeenAt, idleExpiresAt: idleExpiresAt,
                    absoluteExpiresAt: absoluteExpiresAt))
            }
            return .found(entry.found, entry)
        }
    }

    /// Answers kept per cached session: a session's answers for other keys make room.
    static let maximumKeptAnswers = 8

    /// Keeps `bytes`, derived from `entry`'s user and `basis`, as the answer `key` with
    /// `entry` while it is still the cached one, within the entry and byte bounds (counted
    /// like the entry). Answers for another basis are dropped first.
    func keep(_ bytes: [UInt8], key: KeptAnswerKey, basis: AnyObject, with entry: Entry, tokenHash: [UInt8]) {
        guard let token = TokenKey(tokenHash) else { return }
        state.withLock { state in
            guard state.entries[token] === entry else { return }
            var answers = entry.kept.flatMap { $0.basis === basis ? $0.answers : nil } ?? [:]
            if answers.count >= Self.maximumKeptAnswers { answers.removeAll() }
            answers[key] = bytes
            let added = Self.cost(of: answers) - Self.cost(of: entry.kept?.answers ?? [:])
            guard entry.cost + added <= limits.maximumEntryBytes, state.bytes + added <= limits.maximumBytes else { return }
            entry.kept = (basis, answers)
            entry.cost += added
            state.bytes += added
        }
    }

    private static func cost(of answers: [KeptAnswerKey: [UInt8]]) -> Int {
        answers.reduce(0) { $0 + $1.key.cost + $1.value.count }
    }

    /// The generation a load starts at; `store(_:loadedAt:)` keeps the result only if no
    /// drop happened since.
    func generation() -> UInt64 {
        state.withLock { $0.generation }
    }

    func store(_ found: AuthenticatedSession, startedAt generation: UInt64) {
        let cost = Entry.cost(of: found)
        guard limits.maximumEntries > 0, cost <= min(limits.maximumEntryBytes, limits.maximumBytes),
              let key = TokenKey(found.session.tokenHash)
        else { return }
        let entry = Entry(found: found, loadedAt: .now, cost: cost)
        state.withLock { state in
            guard state.generation == generation else { return }
            Self.remove(key, from: &state)
            while state.entries.count >= limits.maximumEntries || state.bytes + cost > limits.maximumBytes,
                  let victim = state.entries.keys.first {
                Self.remove(victim, from: &state)
            }
            state.entries[key] = entry
            state.bytes += cost
            state.tokensOfUser[found.user.id, default: []].insert(key)
        }
    }

    /// Updates a cached session after its use was recorded (the idle expiry moved).
    func noteTouch(tokenHash: [UInt8], lastSeenAt: Timestamp, idleExpiresAt: Timestamp) {
        guard let key = TokenKey(tokenHash) else { return }
        state.withLock { state in
            guard let entry = state.entries[key] else { return }
            entry.found.session.lastSeenAt = lastSeenAt
            entry.found.session.idleExpiresAt = idleExpiresAt
        }
    }

    // MARK: Drops

    public func dropSession(tokenHash: [UInt8]) {
        state.withLock { state in
            state.generation &+= 1
            if let key = TokenKey(tokenHash) { Self.remove(key, from: &state) }
        }
    }

    public func dropSessions(of user: UserID) {
        state.withLock { state in
            state.generation &+= 1
            for key in state.tokensOfUser.removeValue(forKey: user) ?? [] {
                state.bytes -= state.entries.removeValue(forKey: key)?.cost ?? 0
            }
        }
    }

    public func dropAll() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll()
            state.tokensOfUser.removeAll()
            state.bytes = 0
        }
    }

    /// How many sessions are held, for metrics and tests.
    public var count: Int {
        state.withLock { $0.entries.count }
    }

    /// What they cost, as `maximumBytes` counts it.
    public var bytes: Int {
        state.withLock { $0.bytes }
    }

    private static func remove(_ key: TokenKey, from state: inout State) {
        guard let entry = state.entries.removeValue(forKey: key) else { return }
        state.bytes -= entry.cost
        let user = entry.found.user.id
        state.tokensOfUser[user]?.remove(key)
        if state.tokensOfUser[user]?.isEmpty == true { state.tokensOfUser[user] = nil }
    }
}

/// What a kept answer answers: a method, and what in its request the answer depends on
/// besides the session (AuthorizePage's path), so that one session keeps several.
public struct KeptAnswerKey: Hashable, Sendable {
    public let method: String
    public let argument: String

    public init(_ method: String, _ argument: String = "") {
        self.method = method
        self.argument = argument
    }

    /// Its bytes in the cache's count, generously.
    var cost: Int { 64 + method.utf8.count + argument.utf8.count }
}

/// A SHA-256 token hash as a dictionary key: four words, hashed and compared without
/// touching an array.
struct TokenKey: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init?(_ hash: [UInt8]) {
        guard hash.count == 32 else { return nil }
        (a, b, c, d) = hash.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }
}
