import AuthCrypto

/// How the outbox retries and keeps messages.
public struct MailPolicy: Hashable, Sendable {
    /// Transient failures up to this many attempts; then the message is dead.
    public var maximumAttempts: Int
    /// The first retry waits about this long; each further one twice as long.
    public var baseRetryDelay: Duration
    public var maximumRetryDelay: Duration
    public var defaultLease: Duration
    public var maximumLease: Duration
    public var defaultBatchSize: Int
    public var maximumBatchSize: Int
    /// Sent messages are deleted this long after sending.
    public var sentRetention: Duration

    public init(
        maximumAttempts: Int = 8,
        baseRetryDelay: Duration = .seconds(30),
        maximumRetryDelay: Duration = .seconds(3600),
        defaultLease: Duration = .seconds(60),
        maximumLease: Duration = .seconds(3600),
        defaultBatchSize: Int = 50,
        maximumBatchSize: Int = 500,
        sentRetention: Duration = .seconds(7 * 24 * 3600)
    ) {
        self.maximumAttempts = maximumAttempts
        self.baseRetryDelay = baseRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.defaultLease = defaultLease
        self.maximumLease = maximumLease
        self.defaultBatchSize = defaultBatchSize
        self.maximumBatchSize = maximumBatchSize
        self.sentRetention = sentRetention
    }

    public static var defaults: Self { Self() }

    /// Exponential backoff with jitter: a delay drawn uniformly from the upper half of
    /// `base × 2^(attempts − 1)` (capped), so retries of many messages spread out.
    public func retryDelay(afterAttempts attempts: Int) -> Duration {
        let exponent = min(max(attempts - 1, 0), 30)
        let ceiling = min(baseRetryDelay * (1 << exponent), maximumRetryDelay).wholeMilliseconds
        let floor = ceiling / 2
        let jitter = Int64(SecureRandom.uniform(below: UInt64(max(ceiling - floor, 1))))
        return .milliseconds(floor + jitter)
    }
}

/// The outbox's rules: leases, acknowledgements, failures with backoff, statistics, the
/// dead-letter side the Admin service sees, and retention. A stateless flow; the rows
/// live in the store.
public struct Outbox: Sendable {
    private let storage: any OutboxStore
    private let clock: any WallClock
    private let metrics: DomainMetrics
    public let policy: MailPolicy

    public init(storage: any OutboxStore, clock: any WallClock, policy: MailPolicy = .defaults, metrics: DomainMetrics = .disabled) {
        self.storage = storage
        self.clock = clock
        self.policy = policy
        self.metrics = metrics
    }

    public func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(AuthError) -> [OutboxLease] {
        let worker = workerID.trimmingWhitespace()
        guard !worker.isEmpty, worker.utf8.count <= 128 else {
            throw .invalidArgument("worker_id must have 1 to 128 characters", field: "worker_id")
        }
        let size = batchSize == 0 ? policy.defaultBatchSize : batchSize
        guard (1...policy.maximumBatchSize).contains(size) else {
            throw .invalidArgument("batch_size is at most \(policy.maximumBatchSize)", field: "batch_size")
        }
        let now = clock.now
        let leased = try await storage.leaseMessages(
            workerID: worker,
            limit: size,
            leaseUntil: now + (try leaseDuration(leaseSeconds)),
            maximumAttempts: policy.maximumAttempts,
            at: now
        )
        metrics.mailLeased(leased.count)
        return leased
    }

    public func acknowledge(_ leases: [LeaseReference]) async throws(AuthError) -> [Int64] {
        let stale = try await storage.acknowledge(leases, at: clock.now)
        metrics.mailAcknowledged(leases.count - stale.count)
        return stale
    }

    public func reportFailure(_ lease: LeaseReference, permanent: Bool, reason: String) async throws(AuthError) -> FailureOutcome {
        let now = clock.now
        let policy = self.policy
        let outcome = try await storage.reportFailure(
            lease,
            permanent: permanent,
            reason: String(reason.prefix(2000)),
            maximumAttempts: policy.maximumAttempts,
            retryAt: { attempts in now + policy.retryDelay(afterAttempts: attempts) },
            at: now
        )
        metrics.mailFailed(outcome)
        if outcome == .stale {
            throw AuthError(.failedPrecondition, "message \(lease.id) is not leased with this token (the lease expired or was acknowledged)", field: "message")
        }
        return outcome
    }

    public func renew(_ leases: [LeaseReference], leaseSeconds: Int) async throws(AuthError) -> (stale: [Int64], until: Timestamp) {
        let now = clock.now
        let until = now + (try leaseDuration(leaseSeconds))
        return (try await storage.renewLeases(leases, until: until, at: now), until)
    }

    public func release(_ leases: [LeaseReference]) async throws(AuthError) -> [Int64] {
        try await storage.releaseLeases(leases, at: clock.now)
    }

    public func statistics() async throws(AuthError) -> (QueueStatistics, oldestQueuedAge: Duration) {
        let now = clock.now
        let stats = try await storage.queueStatistics(at: now)
        return (stats, stats.oldestQueuedAt.map { now.since($0) } ?? .zero)
    }

    public func deadMessages(pageSize: Int, pageToken: String) async throws(AuthError) -> (messages: [DeadMessage], nextPageToken: String) {
        let size = try Paging.pageSize(pageSize)
        var after: Int64?
        if !pageToken.isEmpty {
            guard let id = Int64(pageToken), id >= 0 else {
                throw .invalidArgument("page_token is not one this server gave out", field: "page_token")
            }
            after = id
        }
        let messages = try await storage.deadMessages(afterID: after, limit: size + 1)
        let page = Array(messages.prefix(size))
        return (page, messages.count > size ? String(page.last!.id) : "")
    }

    public func requeue(ids: [Int64]) async throws(AuthError) -> Int {
        try await storage.requeueDeadMessages(ids: ids, at: clock.now)
    }

    private func leaseDuration(_ seconds: Int) throws(AuthError) -> Duration {
        if seconds == 0 { return policy.defaultLease }
        let duration = Duration.seconds(seconds)
        guard seconds > 0, duration <= policy.maximumLease else {
            throw .invalidArgument("lease_seconds is at most \(policy.maximumLease.wholeMilliseconds / 1000)", field: "lease_seconds")
        }
        return duration
    }
}
