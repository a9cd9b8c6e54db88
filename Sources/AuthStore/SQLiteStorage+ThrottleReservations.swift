public import AuthCore
internal import GRDB

extension SQLiteStorage {
    /// One IMMEDIATE transaction on the single writer: reservations of parallel attempts
    /// are serialised, so the count each one sees includes every earlier one.
    public func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) async throws(AuthError) -> ThrottleVerdict {
        try await write("reserve attempt") { db in
            for reservation in reservations {
                let record = try Self.throttle(db, key: reservation.key)
                if let until = reservation.allowedAt(after: record, now: now) {
                    return .refused(key: reservation.key, until: until)
                }
            }
            for reservation in reservations {
                _ = try Self.countFailure(db, key: reservation.key, window: reservation.rule.window, at: now)
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
