public import AuthCore
internal import GRDB

extension SQLiteStorage {
    public func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord? {
        try await read("read throttle") { db in
            try Self.throttle(db, key: key)
        }
    }

    static func throttle(_ db: Database, key: ThrottleKey) throws -> ThrottleRecord? {
        try ThrottleRecord.fetchOne(
            db.cachedStatement(sql: "SELECT failures, window_started_at, last_failure_at FROM throttles WHERE key = ?"),
            arguments: [key])
    }

    /// A window covers [start, start + window): at `start + window` a new one begins.
    public func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord {
        try await write("record failure") { db in
            try Self.countFailure(db, key: key, window: window, at: now)
        }
    }

    /// Counts one failure in the caller's transaction; the one statement that does.
    static func countFailure(_ db: Database, key: ThrottleKey, window: Duration, at now: Timestamp) throws -> ThrottleRecord {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO throttles (key, failures, window_started_at, last_failure_at)
            VALUES (:key, 1, :now, :now)
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN window_started_at <= :cutoff THEN 1 ELSE failures + 1 END,
                window_started_at = CASE WHEN window_started_at <= :cutoff THEN :now ELSE window_started_at END,
                last_failure_at = :now
            RETURNING failures, window_started_at, last_failure_at
            """)
        guard let record = try ThrottleRecord.fetchOne(statement, arguments: ["key": key, "now": now, "cutoff": now - window]) else {
            throw AuthError.storage("record failure: no row returned for \(key)")
        }
        return record
    }

    public func clearFailures(key: ThrottleKey) async throws(AuthError) {
        try await write("clear failures") { db in
            try db.cachedStatement(sql: "DELETE FROM throttles WHERE key = ?").execute(arguments: [key])
        }
    }

    public func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune throttles") { db in
            try db.cachedStatement(sql: "DELETE FROM throttles WHERE last_failure_at < ?").execute(arguments: [cutoff])
            return db.changesCount
        }
    }
}
