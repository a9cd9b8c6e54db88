public import AuthCore
internal import AuthCrypto
internal import PostgresNIO

// Every outbox state in these statements is a bound `OutboxState` raw value, never an SQL
// literal. Several authd processes may drain one outbox: a message is leased only by the
// transaction that holds its row lock, and every later change of a lease names its token.
extension PostgresStorage {
    /// Leases in a READ COMMITTED transaction, not SERIALIZABLE: mailers polling at once
    /// read the same due rows, which SERIALIZABLE would report as a conflict and retry.
    /// Here every row is taken with `FOR UPDATE SKIP LOCKED`, so concurrent leases take
    /// disjoint rows and never wait for each other; a row that another transaction changed
    /// is re-checked against its newest version before it is locked, so a message whose
    /// lease was just taken, acknowledged or failed is not leased again.
    public func leaseMessages(
        workerID: String,
        limit: Int,
        leaseUntil: Timestamp,
        maximumAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> [OutboxLease] {
        guard limit > 0 else { return [] }
        let queued = OutboxState.queued.rawValue, leased = OutboxState.leased.rawValue, dead = OutboxState.dead.rawValue
        return try await write("lease messages", isolation: "BEGIN ISOLATION LEVEL READ COMMITTED") { connection in
            try await connection.run("""
                WITH expired AS MATERIALIZED (
                    SELECT id FROM outbox
                    WHERE state = \(leased) AND lease_expires_at <= \(now.milliseconds) AND attempts >= \(maximumAttempts)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE outbox SET state = \(dead), lease_token = NULL, lease_expires_at = NULL,
                    last_error = 'lease expired after ' || outbox.attempts || ' attempts: the worker never reported back'
                FROM expired WHERE outbox.id = expired.id
                """)
            // An expired lease at the attempt limit that the statement above skipped (another
            // transaction held it) is not leased either: it is killed by a later lease.
            let due = try await connection.values(Int64.self, """
                SELECT id FROM outbox
                WHERE (state = \(queued) AND next_attempt_at <= \(now.milliseconds))
                   OR (state = \(leased) AND lease_expires_at <= \(now.milliseconds) AND attempts < \(maximumAttempts))
                ORDER BY CASE WHEN state = \(queued) THEN next_attempt_at ELSE lease_expires_at END, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
                """)
            guard !due.isEmpty else { return [] }
            // Drawn in the body: a retried transaction hands out tokens of its own.
            let tokens = due.map { _ in Base64URL.encode(SecureRandom.bytes(16)) }
            var leases: [Int64: OutboxLease] = [:]
            for row in try await connection.rows("""
                UPDATE outbox SET state = \(leased), lease_token = l.token, lease_expires_at = \(leaseUntil.milliseconds),
                    leased_by = \(workerID), attempts = outbox.attempts + 1
                FROM unnest(\(due)::bigint[], \(tokens)::text[]) AS l(id, token)
                WHERE outbox.id = l.id
                RETURNING outbox.id, l.token, outbox.message_id, outbox.kind, outbox.sender, outbox.recipient,
                    outbox.subject, outbox.text_body, outbox.html_body, outbox.headers, outbox.created_at, outbox.attempts
                """) {
                let (id, token, messageID, storedKind, sender, recipient, subject, textBody, htmlBody, headers, createdAt,
                     attempts) = try row.decode(
                        (Int64, String, String, String, String, String, String, String, String, String, Int64, Int32).self)
                guard let kind = TemplateKind(rawValue: storedKind) else {
                    throw AuthError.storage("lease messages: outbox message \(messageID) has an unknown kind \(storedKind)")
                }
                let message = NewOutboxMessage(
                    messageID: messageID,
                    kind: kind,
                    sender: sender,
                    recipient: recipient,
                    subject: subject,
                    textBody: textBody,
                    htmlBody: htmlBody,
                    headers: try StoredHeaders.decode(headers, messageID: messageID),
                    createdAt: Timestamp(milliseconds: createdAt)
                )
                leases[id] = OutboxLease(
                    id: id, leaseToken: token, leaseExpiresAt: leaseUntil, message: message, attempt: Int(attempts))
            }
            return due.compactMap { leases[$0] }
        }
    }

    /// One statement for the batch; a lease another worker took meanwhile no longer has
    /// this token (or SERIALIZABLE aborts the overlap, and the retry sees the new token).
    public func acknowledge(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        guard !leases.isEmpty else { return [] }
        let leased = OutboxState.leased.rawValue, sent = OutboxState.sent.rawValue
        return try await write("acknowledge messages") { connection in
            let held = try await Self.held(connection, """
                UPDATE outbox SET state = \(sent), sent_at = \(now.milliseconds), lease_token = NULL, lease_expires_at = NULL,
                    last_error = NULL
                FROM unnest(\(leases.map(\.id))::bigint[], \(leases.map(\.leaseToken))::text[]) AS l(id, token)
                WHERE outbox.id = l.id AND outbox.state = \(leased) AND outbox.lease_token = l.token
                RETURNING outbox.id, l.token
                """)
            return Self.staleIDs(leases, held: held, repeatable: false)
        }
    }

    /// The row is locked while the outcome is decided, so a concurrent lease skips it.
    public func reportFailure(
        _ lease: LeaseReference,
        permanent: Bool,
        reason: String,
        maximumAttempts: Int,
        retryAt: @escaping @Sendable (Int) -> Timestamp,
        at now: Timestamp
    ) async throws(AuthError) -> FailureOutcome {
        let leased = OutboxState.leased.rawValue
        return try await write("report failure") { connection in
            guard let attempts = try await connection.value(Int32.self, """
                SELECT attempts FROM outbox WHERE id = \(lease.id) AND state = \(leased) AND lease_token = \(lease.leaseToken)
                FOR UPDATE
                """)
            else { return .stale }
            if permanent || Int(attempts) >= maximumAttempts {
                try await connection.run("""
                    UPDATE outbox SET state = \(OutboxState.dead.rawValue), last_error = \(reason), lease_token = NULL,
                        lease_expires_at = NULL
                    WHERE id = \(lease.id)
                    """)
                return .dead
            }
            let next = retryAt(Int(attempts))
            try await connection.run("""
                UPDATE outbox SET state = \(OutboxState.queued.rawValue), next_attempt_at = \(next.milliseconds),
                    last_error = \(reason), lease_token = NULL, lease_expires_at = NULL
                WHERE id = \(lease.id)
                """)
            return .retry(at: next)
        }
    }

    public func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) async throws(AuthError) -> [Int64] {
        guard !leases.isEmpty else { return [] }
        let leased = OutboxState.leased.rawValue
        return try await write("renew leases") { connection in
            let held = try await Self.held(connection, """
                UPDATE outbox SET lease_expires_at = \(until.milliseconds)
                FROM unnest(\(leases.map(\.id))::bigint[], \(leases.map(\.leaseToken))::text[]) AS l(id, token)
                WHERE outbox.id = l.id AND outbox.state = \(leased) AND outbox.lease_token = l.token
                  AND outbox.lease_expires_at > \(now.milliseconds)
                RETURNING outbox.id, l.token
                """)
            // A lease named twice is renewed twice on SQLite, and holds both times.
            return Self.staleIDs(leases, held: held, repeatable: true)
        }
    }

    public func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        guard !leases.isEmpty else { return [] }
        let leased = OutboxState.leased.rawValue, queued = OutboxState.queued.rawValue
        return try await write("release leases") { connection in
            let held = try await Self.held(connection, """
                UPDATE outbox SET state = \(queued), next_attempt_at = \(now.milliseconds),
                    attempts = GREATEST(outbox.attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL
                FROM unnest(\(leases.map(\.id))::bigint[], \(leases.map(\.leaseToken))::text[]) AS l(id, token)
                WHERE outbox.id = l.id AND outbox.state = \(leased) AND outbox.lease_token = l.token
                RETURNING outbox.id, l.token
                """)
            return Self.staleIDs(leases, held: held, repeatable: false)
        }
    }

    public func queueStatistics(at now: Timestamp) async throws(AuthError) -> QueueStatistics {
        let queued = OutboxState.queued.rawValue
        return try await readStatement("queue statistics") { connection in
            guard let row = try await connection.row("""
                SELECT
                    count(*) FILTER (WHERE state = \(queued)),
                    count(*) FILTER (WHERE state = \(OutboxState.leased.rawValue)),
                    count(*) FILTER (WHERE state = \(OutboxState.sent.rawValue)),
                    count(*) FILTER (WHERE state = \(queued) AND attempts > 0),
                    count(*) FILTER (WHERE state = \(OutboxState.dead.rawValue)),
                    min(created_at) FILTER (WHERE state = \(queued))
                FROM outbox
                """)
            else { throw AuthError.storage("queue statistics: no row returned") }
            let (queuedCount, leased, sent, retrying, dead, oldest) =
                try row.decode((Int64, Int64, Int64, Int64, Int64, Int64?).self)
            return QueueStatistics(
                queued: Int(queuedCount), leased: Int(leased), sent: Int(sent), retrying: Int(retrying), dead: Int(dead),
                oldestQueuedAt: oldest.map(Timestamp.init(milliseconds:)))
        }
    }

    public func deadMessages(afterID: Int64?, limit: Int) async throws(AuthError) -> [DeadMessage] {
        try await readStatement("list dead messages") { connection in
            try await connection.rows("""
                SELECT id, recipient, subject, attempts, last_error, created_at FROM outbox
                WHERE state = \(OutboxState.dead.rawValue) AND id > \(afterID ?? 0) ORDER BY id LIMIT \(limit)
                """).map { row in
                let (id, recipient, subject, attempts, lastError, createdAt) =
                    try row.decode((Int64, String, String, Int32, String?, Int64).self)
                return DeadMessage(
                    id: id, recipient: recipient, subject: subject, attempts: Int(attempts), lastError: lastError ?? "",
                    createdAt: Timestamp(milliseconds: createdAt))
            }
        }
    }

    /// Each id counts once, however often it is named.
    public func requeueDeadMessages(ids: [Int64], at now: Timestamp) async throws(AuthError) -> Int {
        let queued = OutboxState.queued.rawValue, dead = OutboxState.dead.rawValue
        let only: [Int64]? = ids.isEmpty ? nil : ids
        return try await write("requeue dead messages") { connection in
            let count = try await connection.value(Int64.self, """
                WITH requeued AS (
                    UPDATE outbox SET state = \(queued), attempts = 0, next_attempt_at = \(now.milliseconds)
                    WHERE state = \(dead) AND (\(only)::bigint[] IS NULL OR id = ANY(\(only)::bigint[]))
                    RETURNING 1
                )
                SELECT count(*) FROM requeued
                """)
            return Int(count ?? 0)
        }
    }

    public func deleteSentMessages(sentBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune sent messages") { connection in
            let count = try await connection.value(Int64.self, """
                WITH deleted AS (
                    DELETE FROM outbox WHERE state = \(OutboxState.sent.rawValue) AND sent_at < \(cutoff.milliseconds)
                    RETURNING 1
                )
                SELECT count(*) FROM deleted
                """)
            return Int(count ?? 0)
        }
    }

    /// The (id, token) pairs an `UPDATE ... RETURNING outbox.id, l.token` changed.
    private static func held(_ connection: StoreConnection, _ query: PostgresQuery) async throws -> Set<LeaseReference> {
        Set(try await connection.rows(query).map { row in
            let (id, token) = try row.decode((Int64, String).self)
            return LeaseReference(id: id, leaseToken: token)
        })
    }

    /// The ids of `leases` that did not hold, in their order, as the SQLite store's
    /// statement-a-lease loop reports them: a lease named twice holds the second time only
    /// when the change keeps it leased (`repeatable`, a renewal).
    private static func staleIDs(_ leases: [LeaseReference], held: Set<LeaseReference>, repeatable: Bool) -> [Int64] {
        var counted: Set<LeaseReference> = []
        var stale: [Int64] = []
        for lease in leases {
            if held.contains(lease), repeatable || counted.insert(lease).inserted { continue }
            stale.append(lease.id)
        }
        return stale
    }
}
