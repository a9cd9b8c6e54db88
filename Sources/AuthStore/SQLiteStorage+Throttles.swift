public import AuthCore
internal import GRDB

extension SQLiteStorage {
    public func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord? {
        try await read("read throttle") { db in
            let statement = try db.cachedStatement(sql: """
                SELECT failures, window_started_at, last_failure_at FROM throttles WHERE key = ?
                """)
            return try Row.fetchOne(statement, arguments: [key]).map(Self.throttleRecord)
        }
    }

    /// A window covers [start, start + window): at `start + window` a new one begins.
    public func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord {
        try await write("record failure") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO throttles (key, failures, window_started_at, last_failure_at)
                VALUES (:key, 1, :now, :now)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN window_started_at <= :cutoff THEN 1 ELSE failures + 1 END,
                    window_started_at = CASE WHEN window_started_at <= :cutoff THEN :now ELSE window_started_at END,
                    last_failure_at = :now
                RETURNING failures, window_started_at, last_failure_at
                """)
            let arguments: StatementArguments = [
                "key": key, "now": now.milliseconds, "cutoff": (now - window).milliseconds,
            ]
            guard let row = try Row.fetchOne(statement, arguments: arguments) else {
                throw AuthError.storage("record failure: no row returned for \(key)")
            }
            return Self.throttleRecord(row)
        }
    }

    public func clearFailures(key: ThrottleKey) async throws(AuthError) {
        try await write("clear failures") { db in
            try db.cachedStatement(sql: "DELETE FROM throttles WHERE key = ?").execute(arguments: [key])
        }
    }

    public func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune throttles") { db in
            try db.cachedStatement(sql: "DELETE FROM throttles WHERE last_failure_at < ?").execute(arguments: [cutoff.milliseconds])
            return db.changesCount
        }
    }

    private static func throttleRecord(_ row: Row) -> ThrottleRecord {
        ThrottleRecord(
            failures: row[0],
            windowStartedAt: Timestamp(milliseconds: row[1]),
            lastFailureAt: Timestamp(milliseconds: row[2])
        )
    }
}
