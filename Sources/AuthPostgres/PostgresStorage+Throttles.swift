public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    public func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord? {
        try await readStatement("read throttle") { connection in
            try await connection.row("""
                SELECT failures, window_started_at, last_failure_at FROM throttles WHERE key = \(key.description)
                """).map(Self.throttleRecord)
        }
    }

    /// A row of `failures, window_started_at, last_failure_at`.
    static func throttleRecord(_ row: PostgresRow) throws -> ThrottleRecord {
        let (failures, windowStartedAt, lastFailureAt) = try row.decode((Int32, Int64, Int64).self)
        return ThrottleRecord(
            failures: Int(failures),
            windowStartedAt: Timestamp(milliseconds: windowStartedAt),
            lastFailureAt: Timestamp(milliseconds: lastFailureAt))
    }

    /// A window covers [start, start + window): at `start + window` a new one begins.
    public func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord {
        try await lockedWrite("record failure", locking: [Self.lockName(key)]) { connection in
            try await Self.countFailure(connection, key: key, window: window, at: now)
        }
    }

    /// Every change of a counter holds its key's advisory lock (`lockedWrite`): callers of
    /// one key, in any process, wait for each other instead of aborting each other.
    static func lockName(_ key: ThrottleKey) -> String {
        "throttle:" + key.description
    }

    /// Counts one failure in the caller's transaction; the one statement that does.
    static func countFailure(_ connection: StoreConnection, key: ThrottleKey, window: Duration, at now: Timestamp) async throws -> ThrottleRecord {
        let cutoff = (now - window).milliseconds
        guard let row = try await connection.row("""
            INSERT INTO throttles (key, failures, window_started_at, last_failure_at)
            VALUES (\(key.description), 1, \(now.milliseconds), \(now.milliseconds))
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN throttles.window_started_at <= \(cutoff) THEN 1 ELSE throttles.failures + 1 END,
                window_started_at = CASE WHEN throttles.window_started_at <= \(cutoff)
                                         THEN excluded.window_started_at ELSE throttles.window_started_at END,
                last_failure_at = excluded.last_failure_at
            RETURNING failures, window_started_at, last_failure_at
            """)
        else {
            throw AuthError.storage("record failure: no row returned for \(key)")
        }
        return try throttleRecord(row)
    }

    public func clearFailures(key: ThrottleKey) async throws(AuthError) {
        try await lockedWrite("clear failures", locking: [Self.lockName(key)]) { connection in
            try await connection.run("DELETE FROM throttles WHERE key = \(key.description)")
        }
    }

    /// One transaction holding every key's lock (`lockedWrite`): the counters are read and
    /// checked in the order given, like SQLite's; then, unless one refuses, each key is
    /// counted. Parallel attempts on one account or address, from any processes, queue on
    /// the lock, and each checks the count the previous one left: none passes a check
    /// that misses an earlier attempt, and a flood waits rather than failing.
    public func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) async throws(AuthError) -> ThrottleVerdict {
        guard !reservations.isEmpty else { return .allowed }
        let keys = reservations.map(\.key.description)
        return try await lockedWrite("reserve attempt", locking: reservations.map { Self.lockName($0.key) }) { connection in
            var records: [String: ThrottleRecord] = [:]
            for row in try await connection.rows("""
                SELECT key, failures, window_started_at, last_failure_at FROM throttles WHERE key = ANY(\(keys)::text[])
                """) {
                let (key, failures, windowStartedAt, lastFailureAt) = try row.decode((String, Int32, Int64, Int64).self)
                records[key] = ThrottleRecord(
                    failures: Int(failures),
                    windowStartedAt: Timestamp(milliseconds: windowStartedAt),
                    lastFailureAt: Timestamp(milliseconds: lastFailureAt))
            }
            for reservation in reservations {
                if let until = reservation.allowedAt(after: records[reservation.key.description], now: now) {
                    return .refused(key: reservation.key, until: until)
                }
            }
            for reservation in reservations {
                _ = try await Self.countFailure(connection, key: reservation.key, window: reservation.rule.window, at: now)
            }
            return .allowed
        }
    }

    public func forgiveFailure(key: ThrottleKey) async throws(AuthError) {
        try await lockedWrite("forgive failure", locking: [Self.lockName(key)]) { connection in
            try await connection.run("""
                UPDATE throttles SET failures = GREATEST(failures - 1, 0) WHERE key = \(key.description)
                """)
        }
    }

    /// Counted in the database: a prune may delete many rows.
    public func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune throttles") { connection in
            Int(try await connection.value(Int64.self, """
                WITH deleted AS (
                    DELETE FROM throttles WHERE last_failure_at < \(cutoff.milliseconds) RETURNING 1
                )
                SELECT count(*) FROM deleted
                """) ?? 0)
        }
    }
}
