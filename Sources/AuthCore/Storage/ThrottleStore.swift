/// Failure counters per throttle key, in the database so that they survive restarts and
/// hold across every process on one database.
public protocol ThrottleStore: Sendable {
    func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord?

    /// Counts one failure against `key`, starting a new window (count 1) when the current
    /// window began `window` or more before `now`.
    func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord

    func clearFailures(key: ThrottleKey) async throws(AuthError)

    /// Deletes counters whose last failure is older than `cutoff`; returns how many.
    func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int
}
