public import AuthCore
internal import AuthCrypto
internal import GRDB

// Every outbox state in these statements is a bound `OutboxState`, never an SQL literal.
extension SQLiteStorage {
    public func leaseMessages(
        workerID: String,
        limit: Int,
        leaseUntil: Timestamp,
        maximumAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> [OutboxLease] {
        guard limit > 0 else { return [] }
        return try await write("lease messages") { db in
            try db.cachedStatement(sql: """
                UPDATE outbox SET state = :dead, lease_token = NULL, lease_expires_at = NULL,
                    last_error = 'lease expired after ' || attempts || ' attempts: the worker never reported back'
                WHERE state = :leased AND lease_expires_at <= :now AND attempts >= :maximumAttempts
                """).execute(arguments: [
                    "dead": OutboxState.dead, "leased": OutboxState.leased, "now": now, "maximumAttempts": maximumAttempts,
                ])
            // Two indexed scans: due queued messages, and leases that expired (a crashed worker's).
            let due = try Int64.fetchAll(
                db.cachedStatement(sql: """
                    SELECT id FROM (
                        SELECT id, next_attempt_at AS due FROM outbox
                        WHERE state = :queued AND next_attempt_at <= :now
                        UNION ALL
                        SELECT id, lease_expires_at AS due FROM outbox
                        WHERE state = :leased AND lease_expires_at <= :now
                    ) ORDER BY due, id LIMIT :limit
                    """),
                arguments: ["queued": OutboxState.queued, "leased": OutboxState.leased, "now": now, "limit": limit]
            )
            let lease = try db.cachedStatement(sql: """
                UPDATE outbox SET state = ?, lease_token = ?, lease_expires_at = ?, leased_by = ?, attempts = attempts + 1
                WHERE id = ?
                RETURNING message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, attempts
                """)
            var leases: [OutboxLease] = []
            for id in due {
                let token = Base64URL.encode(SecureRandom.bytes(16))
                let arguments: StatementArguments = [OutboxState.leased, token, leaseUntil, workerID, id]
                guard let row = try Row.fetchOne(lease, arguments: arguments) else { continue }
                leases.append(OutboxLease(
                    id: id,
                    leaseToken: token,
                    leaseExpiresAt: leaseUntil,
                    message: try NewOutboxMessage(row: row),
                    attempt: try row.decode(forColumn: "attempts")
                ))
            }
            return leases
        }
    }

    public func acknowledge(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("acknowledge messages") { db in
            let ack = try db.cachedStatement(sql: """
                UPDATE outbox SET state = :sent, sent_at = :now, lease_token = NULL, lease_expires_at = NULL, last_error = NULL
                WHERE id = :id AND state = :leased AND lease_token = :token
                """)
            return try Self.eachHeld(leases, db) { lease in
                try ack.execute(arguments: [
                    "sent": OutboxState.sent, "leased": OutboxState.leased, "now": now,
                    "id": lease.id, "token": lease.leaseToken,
                ])
            }
        }
    }

    public func reportFailure(
        _ lease: LeaseReference,
        permanent: Bool,
        reason: String,
        maximumAttempts: Int,
        retryAt: @escaping @Sendable (Int) -> Timestamp,
        at now: Timestamp
    ) async throws(AuthError) -> FailureOutcome {
        try await write("report failure") { db in
            guard let attempts = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT attempts FROM outbox WHERE id = ? AND state = ? AND lease_token = ?"),
                arguments: [lease.id, OutboxState.leased, lease.leaseToken]
            ) else { return .stale }
            if permanent || attempts >= maximumAttempts {
                try db.cachedStatement(sql: """
                    UPDATE outbox SET state = ?, last_error = ?, lease_token = NULL, lease_expires_at = NULL WHERE id = ?
                    """).execute(arguments: [OutboxState.dead, reason, lease.id])
                return .dead
            }
            let next = retryAt(attempts)
            try db.cachedStatement(sql: """
                UPDATE outbox SET state = ?, next_attempt_at = ?, last_error = ?, lease_token = NULL, lease_expires_at = NULL
                WHERE id = ?
                """).execute(arguments: [OutboxState.queued, next, reason, lease.id])
            return .retry(at: next)
        }
    }

    public func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("renew leases") { db in
            let renew = try db.cachedStatement(sql: """
                UPDATE outbox SET lease_expires_at = ? WHERE id = ? AND state = ? AND lease_token = ? AND lease_expires_at > ?
                """)
            return try Self.eachHeld(leases, db) { lease in
                try renew.execute(arguments: [until, lease.id, OutboxState.leased, lease.leaseToken, now])
            }
        }
    }

    public func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("release leases") { db in
            let release = try db.cachedStatement(sql: """
                UPDATE outbox SET state = :queued, next_attempt_at = :now, attempts = MAX(attempts - 1, 0),
                    lease_token = NULL, lease_expires_at = NULL
                WHERE id = :id AND state = :leased AND lease_token = :token
                """)
            return try Self.eachHeld(leases, db) { lease in
                try release.execute(arguments: [
                    "queued": OutboxState.queued, "leased": OutboxState.leased, "now": now,
                    "id": lease.id, "token": lease.leaseToken,
                ])
            }
        }
    }

    public func queueStatistics(at now: Timestamp) async throws(AuthError) -> QueueStatistics {
        try await read("queue statistics") { db in
            let statistics = try QueueStatistics.fetchOne(
                db.cachedStatement(sql: """
                    SELECT
                        COUNT(*) FILTER (WHERE state = :queued) AS queued,
                        COUNT(*) FILTER (WHERE state = :leased) AS leased,
                        COUNT(*) FILTER (WHERE state = :sent) AS sent,
                        COUNT(*) FILTER (WHERE state = :queued AND attempts > 0) AS retrying,
                        COUNT(*) FILTER (WHERE state = :dead) AS dead,
                        MIN(created_at) FILTER (WHERE state = :queued) AS oldest_queued_at
                    FROM outbox
                    """),
                arguments: [
                    "queued": OutboxState.queued, "leased": OutboxState.leased,
                    "sent": OutboxState.sent, "dead": OutboxState.dead,
                ])
            guard let statistics else { throw AuthError.storage("queue statistics: no row returned") }
            return statistics
        }
    }

    public func deadMessages(afterID: Int64?, limit: Int) async throws(AuthError) -> [DeadMessage] {
        try await read("list dead messages") { db in
            try DeadMessage.fetchAll(
                db.cachedStatement(sql: """
                    SELECT id, recipient, subject, attempts, last_error, created_at FROM outbox
                    WHERE state = ? AND id > ? ORDER BY id LIMIT ?
                    """),
                arguments: [OutboxState.dead, afterID ?? 0, limit]
            )
        }
    }

    public func requeueDeadMessages(ids: [Int64], at now: Timestamp) async throws(AuthError) -> Int {
        try await write("requeue dead messages") { db in
            if ids.isEmpty {
                try db.cachedStatement(sql: """
                    UPDATE outbox SET state = :queued, attempts = 0, next_attempt_at = :now WHERE state = :dead
                    """).execute(arguments: ["queued": OutboxState.queued, "dead": OutboxState.dead, "now": now])
                return db.changesCount
            }
            let requeue = try db.cachedStatement(sql: """
                UPDATE outbox SET state = :queued, attempts = 0, next_attempt_at = :now WHERE id = :id AND state = :dead
                """)
            var count = 0
            for id in Set(ids) {
                try requeue.execute(arguments: ["queued": OutboxState.queued, "dead": OutboxState.dead, "now": now, "id": id])
                count += db.changesCount
            }
            return count
        }
    }

    public func deleteSentMessages(sentBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune sent messages") { db in
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE state = ? AND sent_at < ?")
                .execute(arguments: [OutboxState.sent, cutoff])
            return db.changesCount
        }
    }

    /// Runs `update` for each lease; returns the ids it changed no row for.
    private static func eachHeld(_ leases: [LeaseReference], _ db: Database, _ update: (LeaseReference) throws -> Void) throws -> [Int64] {
        var stale: [Int64] = []
        for lease in leases {
            try update(lease)
            if db.changesCount == 0 { stale.append(lease.id) }
        }
        return stale
    }
}
