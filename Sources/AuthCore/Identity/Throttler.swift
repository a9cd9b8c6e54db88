/// Counts failures per key in the store and says when a key must wait. Stateless: the
/// counts live in the store, so they survive restarts and hold across instances.
struct Throttler: Sendable {
    let store: any ThrottleStore

    /// Throws RESOURCE_EXHAUSTED with a retry hint while `key` is backing off.
    func check(_ key: ThrottleKey, rule: BackoffRule, now: Timestamp, what: String) async throws(AuthError) {
        guard let record = try await store.throttle(key: key),
            record.windowStartedAt > now - rule.window,
            let delay = rule.delay(after: record.failures)
        else { return }
        let allowedAt = record.lastFailureAt + delay
        if now < allowedAt {
            throw AuthError(
                .resourceExhausted,
                "too many failed \(what); try again in \(Self.seconds(allowedAt.since(now))) s",
                retryAfter: allowedAt.since(now)
            )
        }
    }

    /// Counts the attempt against every key up front (atomically), or throws
    /// RESOURCE_EXHAUSTED when one of them is backing off; `what` names the attempts of each
    /// key in the message ("logins from this address").
    func reserve(
        _ reservations: [ThrottleReservation],
        now: Timestamp,
        what: (ThrottleKey) -> String
    ) async throws(AuthError) {
        guard case .refused(let key, let until) = try await store.reserveAttempt(reservations, at: now) else { return }
        let wait = until.since(now)
        throw AuthError(
            .resourceExhausted,
            "too many failed \(what(key)); try again in \(Self.seconds(wait)) s",
            retryAfter: wait
        )
    }

    /// Takes back the count of a reserved attempt that succeeded.
    func forgive(_ key: ThrottleKey) async throws(AuthError) {
        try await store.forgiveFailure(key: key)
    }

    func recordFailure(_ key: ThrottleKey, rule: BackoffRule, now: Timestamp) async throws(AuthError) {
        _ = try await store.recordFailure(key: key, window: rule.window, at: now)
    }

    /// Counts one request against an hourly quota; throws when it is over.
    func consumeHourlyQuota(_ key: ThrottleKey, limit: Int, now: Timestamp, what: String) async throws(AuthError) {
        let hour = Duration.seconds(3600)
        let record = try await store.recordFailure(key: key, window: hour, at: now)
        if record.failures > limit {
            let retry = (record.windowStartedAt + hour).since(now)
            throw AuthError(
                .resourceExhausted,
                "too many \(what) in the last hour; try again in \(Self.seconds(retry)) s",
                retryAfter: retry
            )
        }
    }

    func clear(_ key: ThrottleKey) async throws(AuthError) {
        try await store.clearFailures(key: key)
    }

    private static func seconds(_ duration: Duration) -> Int64 {
        max(1, (duration.wholeMilliseconds + 999) / 1000)
    }
}
