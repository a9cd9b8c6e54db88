public import AuthCore
internal import GRDB

extension SQLiteStorage {
    /// One IMMEDIATE transaction on the single writer: reservations of parallel attempts
    /// are serialised, so the count each one sees includes every earlier one.
    public func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) async throws(AuthError) -> ThrottleVerdict {
        try await write("reserve attempt") { db in
            let read = try db.cachedStatement(sql: """
                SELECT failures, window_started_at, last_failure_at FROM throttles WHERE key = ?
                """)
            for reservation in reservations {
                let record = try Row.fetchOne(read, arguments: [reservation.key]).map { row in
                    ThrottleRecord(
                        failures: row["failures"],
                        windowStartedAt: Timestamp(milliseconds: row["window_started_at"]),
                        lastFailureAt: Timestamp(milliseconds: row["last_failure_at"]))
                }
                if let until = reservation.allowedAt(after: record, now: now) {
                    return .refused(key: reservation.key, until: until)
                }
            }
            let count = try db.cachedStatement(sql: """
                INSERT INTO throttles (key, failures, window_started_at, last_failure_at)
                VALUES (:key, 1, :now, :now)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN window_started_at <= :cutoff THEN 1 ELSE failures + 1 END,
                    window_started_at = CASE WHEN window_started_at <= :cutoff THEN :now ELSE window_started_at END,
                    last_failure_at = :now
                """)
            for reservation in reservations {
                try count.execute(arguments: [
                    "key": reservation.key, "now": now.milliseconds, "cutoff": (now - reservation.rule.window).milliseconds,
                ])
            }
            return .allowed
        }
    }

    public func forgiveFailure(key: ThrottleKey) async throws(AuthError) {
        try await write("forgive failure") { db in
            try db.cachedStatement(sql: "UPDATE throttles SET failures = max(failures - 1, 0) WHERE key = ?")
                .execute(arguments: [key])
        }
    }
}
