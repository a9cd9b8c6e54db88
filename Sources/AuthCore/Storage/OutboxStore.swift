/// The outbox as the Mail service drains it. The single writer serialises leases, so two
/// workers never hold one message at once while its lease holds.
public protocol OutboxStore: Sendable {
    /// Leases up to `limit` messages that are due (queued and `next_attempt_at` passed, or
    /// leased with an expired lease), oldest due first: each gets a fresh random lease
    /// token, `leased_by`, the lease expiry, and one more attempt. A message whose lease
    /// expired after `maximumAttempts` attempts (its worker died on it every time) is
    /// dead instead, so it cannot crash workers forever.
    func leaseMessages(
        workerID: String,
        limit: Int,
        leaseUntil: Timestamp,
        maximumAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> [OutboxLease]

    /// Marks sent the messages whose lease still holds; returns the ids of the others.
    func acknowledge(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64]

    /// A failed delivery. `permanent`, or a transient failure at `maximumAttempts`, kills
    /// the message; otherwise it waits until `retryAt(attempts)`.
    func reportFailure(
        _ lease: LeaseReference,
        permanent: Bool,
        reason: String,
        maximumAttempts: Int,
        retryAt: @escaping @Sendable (Int) -> Timestamp,
        at now: Timestamp
    ) async throws(AuthError) -> FailureOutcome

    /// Extends leases that still hold; returns the ids of the others.
    func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) async throws(AuthError) -> [Int64]

    /// Returns held messages to the queue at once, not counting the attempt; returns stale ids.
    func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64]

    func queueStatistics(at now: Timestamp) async throws(AuthError) -> QueueStatistics

    /// Dead messages by id, after `afterID`.
    func deadMessages(afterID: Int64?, limit: Int) async throws(AuthError) -> [DeadMessage]

    /// Queues dead messages again with a fresh attempt count (all when `ids` is empty);
    /// returns how many.
    func requeueDeadMessages(ids: [Int64], at now: Timestamp) async throws(AuthError) -> Int

    /// Deletes sent messages sent before `cutoff`; returns how many.
    func deleteSentMessages(sentBefore cutoff: Timestamp) async throws(AuthError) -> Int
}
