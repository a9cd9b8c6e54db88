/// How long rows that nobody can use any more are kept before the pruner deletes them.
public struct RetentionPolicy: Hashable, Sendable {
    /// Sessions after their expiry or revocation (kept a while for the operator's eyes).
    public var endedSessions: Duration
    /// Codes and invitations after they were used, voided or expired.
    public var finishedCodes: Duration
    /// Throttle counters after their last failure. At least a day, longer than any
    /// throttle window, so that pruning never forgets a live count.
    public var idleThrottles: Duration
    /// How often the pruner runs.
    public var interval: Duration

    public init(
        endedSessions: Duration = .seconds(24 * 3600),
        finishedCodes: Duration = .seconds(24 * 3600),
        idleThrottles: Duration = .seconds(24 * 3600),
        interval: Duration = .seconds(3600)
    ) {
        precondition(idleThrottles >= .seconds(24 * 3600), "throttle counters are kept at least a day")
        self.endedSessions = endedSessions
        self.finishedCodes = finishedCodes
        self.idleThrottles = idleThrottles
        self.interval = interval
    }

    public static var defaults: Self { Self() }
}

/// What one pruning pass deleted.
public struct PruneCounts: Hashable, Sendable {
    public var sentMessages = 0
    public var sessions = 0
    public var codes = 0
    public var throttles = 0

    public init() {}

    public var total: Int { sentMessages + sessions + codes + throttles }
}

/// Deletes what nobody can use any more: sent mail past its retention, ended sessions,
/// finished codes, idle throttle counters. Stateless; run periodically.
public struct Pruner: Sendable {
    let storage: any Storage
    let clock: any WallClock
    let retention: RetentionPolicy
    let mail: MailPolicy

    public init(storage: any Storage, clock: any WallClock, retention: RetentionPolicy, mail: MailPolicy) {
        self.storage = storage
        self.clock = clock
        self.retention = retention
        self.mail = mail
    }

    public func prune() async throws(AuthError) -> PruneCounts {
        let now = clock.now
        var counts = PruneCounts()
        counts.sentMessages = try await storage.deleteSentMessages(sentBefore: now - mail.sentRetention)
        counts.sessions = try await storage.deleteSessions(endedBefore: now - retention.endedSessions)
        counts.codes = try await storage.deleteCodes(finishedBefore: now - retention.finishedCodes)
        counts.throttles = try await storage.deleteThrottles(idleSince: now - retention.idleThrottles)
        return counts
    }
}
