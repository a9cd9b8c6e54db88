/// Failure counters per throttle key, in the database so that they survive restarts and
/// hold across every process on one database.
public protocol ThrottleStore: Sendable {
    func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord?

    /// Counts one failure against `key`, starting a new window (count 1) when the current
    /// window began `window` or more before `now`.
    func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord

    func clearFailures(key: ThrottleKey) async throws(AuthError)

    /// In one transaction: when any of the keys is backing off at `now` (`BackoffRule`),
    /// counts nothing and says which; otherwise counts one failure against every key, up
    /// front, so that parallel attempts cannot all pass one check before any is counted.
    /// An attempt that then succeeds takes its count back with `forgiveFailure`.
    func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) async throws(AuthError) -> ThrottleVerdict

    /// Takes back one failure `reserveAttempt` counted against `key` (never below zero).
    func forgiveFailure(key: ThrottleKey) async throws(AuthError)

    /// Deletes counters whose last failure is older than `cutoff`; returns how many.
    func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int
}
