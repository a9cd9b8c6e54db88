public import AuthCore
internal import AuthCrypto
internal import Foundation
internal import GRDB

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
                UPDATE outbox SET state = 'dead', lease_token = NULL, lease_expires_at = NULL,
                    last_error = 'lease expired after ' || attempts || ' attempts: the worker never reported back'
                WHERE state = 'leased' AND lease_expires_at <= ? AND attempts >= ?
                """).execute(arguments: [now.milliseconds, maximumAttempts])
            // Two indexed scans: due queued messages, and leases that expired (a crashed worker's).
            let due = try Int64.fetchAll(
                db.cachedStatement(sql: """
                    SELECT id FROM (
                        SELECT id, next_attempt_at AS due FROM outbox
                        WHERE state = 'queued' AND next_attempt_at <= :now
                        UNION ALL
                        SELECT id, lease_expires_at AS due FROM outbox
                        WHERE state = 'leased' AND lease_expires_at <= :now
                    ) ORDER BY due, id LIMIT :limit
                    """),
                arguments: ["now": now.milliseconds, "limit": limit]
            )
            let lease = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'leased', lease_token = ?, lease_expires_at = ?, leased_by = ?, attempts = attempts + 1
                WHERE id = ?
                RETURNING message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, attempts
                """)
            var leases: [OutboxLease] = []
            for id in due {
                let token = Base64URL.encode(SecureRandom.bytes(16))
                guard let row = try Row.fetchOne(lease, arguments: [token, leaseUntil.milliseconds, workerID, id]) else { continue }
                let message = NewOutboxMessage(
                    messageID: row[0],
                    kind: row[1],
                    sender: row[2],
                    recipient: row[3],
                    subject: row[4],
                    textBody: row[5],
                    htmlBody: row[6],
                    headers: try Self.decodeHeaders(row[7], messageID: row[0]),
                    createdAt: Timestamp(milliseconds: row[8])
                )
                leases.append(OutboxLease(id: id, leaseToken: token, leaseExpiresAt: leaseUntil, message: message, attempt: row[9]))
            }
            return leases
        }
    }

    public func acknowledge(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("acknowledge messages") { db in
            let ack = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'sent', sent_at = ?, lease_token = NULL, lease_expires_at = NULL, last_error = NULL
                WHERE id = ? AND state = 'leased' AND lease_token = ?
                """)
            return try Self.eachHeld(leases, db) { lease in
                try ack.execute(arguments: [now.milliseconds, lease.id, lease.leaseToken])
            }
        }
    }

    public func reportFailure(
        _ lease: LeaseReference,
        permanent: Bool,
        reason: String,
        maximumAttempts: Int,
        retryAt: @Sendable (Int) -> Timestamp,
        at now: Timestamp
    ) async throws(AuthError) -> FailureOutcome {
        try await write("report failure") { db in
            guard let attempts = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT attempts FROM outbox WHERE id = ? AND state = 'leased' AND lease_token = ?"),
                arguments: [lease.id, lease.leaseToken]
            ) else { return .stale }
            if permanent || attempts >= maximumAttempts {
                try db.cachedStatement(sql: """
                    UPDATE outbox SET state = 'dead', last_error = ?, lease_token = NULL, lease_expires_at = NULL WHERE id = ?
                    """).execute(arguments: [reason, lease.id])
                return .dead
            }
            let next = retryAt(attempts)
            try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = ?, lease_token = NULL, lease_expires_at = NULL
                WHERE id = ?
                """).execute(arguments: [next.milliseconds, reason, lease.id])
            return .retry(at: next)
        }
    }

    public func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("renew leases") { db in
            let renew = try db.cachedStatement(sql: """
                UPDATE outbox SET lease_expires_at = ? WHERE id = ? AND state = 'leased' AND lease_token = ? AND lease_expires_at > ?
                """)
            return try Self.eachHeld(leases, db) { lease in
                try renew.execute(arguments: [until.milliseconds, lease.id, lease.leaseToken, now.milliseconds])
            }
        }
    }

    public func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await write("release leases") { db in
            let release = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'queued', next_attempt_at = ?, attempts = MAX(attempts - 1, 0),
                    lease_token = NULL, lease_expires_at = NULL
                WHERE id = ? AND state = 'leased' AND lease_token = ?
                """)
            return try Self.eachHeld(leases, db) { lease in
                try release.execute(arguments: [now.milliseconds, lease.id, lease.leaseToken])
            }
        }
    }

    public func queueStatistics(at now: Timestamp) async throws(AuthError) -> QueueStatistics {
        try await read("queue statistics") { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT
                    COUNT(*) FILTER (WHERE state = 'queued'),
                    COUNT(*) FILTER (WHERE state = 'leased'),
                    COUNT(*) FILTER (WHERE state = 'sent'),
                    COUNT(*) FILTER (WHERE state = 'queued' AND attempts > 0),
                    COUNT(*) FILTER (WHERE state = 'dead'),
                    MIN(created_at) FILTER (WHERE state = 'queued')
                FROM outbox
                """)!
            let oldest: Int64? = row[5]
            return QueueStatistics(
                queued: row[0],
                leased: row[1],
                sent: row[2],
                retrying: row[3],
                dead: row[4],
                oldestQueuedAt: oldest.map(Timestamp.init(milliseconds:))
            )
        }
    }

    public func deadMessages(afterID: Int64?, limit: Int) async throws(AuthError) -> [DeadMessage] {
        try await read("list dead messages") { db in
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT id, recipient, subject, attempts, COALESCE(last_error, ''), created_at FROM outbox
                    WHERE state = 'dead' AND id > ? ORDER BY id LIMIT ?
                    """),
                arguments: [afterID ?? 0, limit]
            ).map { row in
                DeadMessage(id: row[0], recipient: row[1], subject: row[2], attempts: row[3], lastError: row[4], createdAt: Timestamp(milliseconds: row[5]))
            }
        }
    }

    public func requeueDeadMessages(ids: [Int64], at now: Timestamp) async throws(AuthError) -> Int {
        try await write("requeue dead messages") { db in
            if ids.isEmpty {
                try db.execute(
                    sql: "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE state = 'dead'",
                    arguments: [now.milliseconds]
                )
                return db.changesCount
            }
            let requeue = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE id = ? AND state = 'dead'
                """)
            var count = 0
            for id in Set(ids) {
                try requeue.execute(arguments: [now.milliseconds, id])
                count += db.changesCount
            }
            return count
        }
    }

    public func deleteSentMessages(sentBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune sent messages") { db in
            try db.execute(sql: "DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?", arguments: [cutoff.milliseconds])
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
