public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    /// An unknown user is `.notFound`. A user deleted by another process meanwhile makes
    /// the insert's foreign key check fail as a serialization failure: the retry finds no user.
    public func insertSession(_ session: NewSession) async throws(AuthError) -> SessionRecord {
        try await write("insert session") { connection in
            guard try await PostgresRows.userExists(connection, id: session.userID) else {
                throw Self.notFound(session.userID)
            }
            return try await Self.insertSession(session, connection)
        }
    }

    /// The hot path: one statement, one round trip and one snapshot. The session is found
    /// on the unique index of `token_hash`, its user by primary key, and the user's
    /// attributes and roles by key prefix, as arrays: the cost does not grow with the
    /// number of users or sessions.
    public func authenticate(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> AuthenticatedSession? {
        try await readStatement("authenticate") { connection in
            guard let row = try await connection.first(AuthenticateStatement(tokenHash: tokenHash, now: now.milliseconds))
            else { return nil }
            // The user's columns first, in `userColumns`' order, then the session's.
            let (
                userID, email, passwordHash, _, userCreatedAt, userUpdatedAt, names, values, roles,
                sessionID, sessionCreatedAt, lastSeenAt, idleExpiresAt, absoluteExpiresAt
            ) = row
            let user = User(
                id: UserID(rawValue: userID),
                email: email,
                attributes: Dictionary(zip(names, values), uniquingKeysWith: { first, _ in first }),
                roles: roles,
                blocked: false,
                hasPassword: passwordHash != nil,
                createdAt: Timestamp(milliseconds: userCreatedAt),
                updatedAt: Timestamp(milliseconds: userUpdatedAt)
            )
            let session = SessionRecord(
                id: sessionID,
                userID: user.id,
                tokenHash: tokenHash,
                createdAt: Timestamp(milliseconds: sessionCreatedAt),
                lastSeenAt: Timestamp(milliseconds: lastSeenAt),
                idleExpiresAt: Timestamp(milliseconds: idleExpiresAt),
                absoluteExpiresAt: Timestamp(milliseconds: absoluteExpiresAt)
            )
            return AuthenticatedSession(session: session, user: user)
        }
    }

    /// Records uses in one statement. Never moves either time backwards (touches may land
    /// out of order, and two processes touch one session), and leaves a revoked or unknown
    /// session alone. Touches of one session are folded into one first: an UPDATE ... FROM
    /// applies only one joined row per target row.
    ///
    /// Both processes' touchers flush batches that share sessions: `locked` takes the row
    /// locks in id order whatever plan the join gets, so two flushes wait for each other
    /// (and the later one retries, SERIALIZABLE) instead of deadlocking.
    public func touchSessions(_ touches: [SessionTouch]) async throws(AuthError) {
        guard !touches.isEmpty else { return }
        let ids = touches.map(\.sessionID)
        let lastSeen = touches.map(\.lastSeenAt.milliseconds)
        let idleExpiries = touches.map(\.idleExpiresAt.milliseconds)
        try await write("touch sessions") { connection in
            try await connection.run("""
                WITH locked AS MATERIALIZED (
                    SELECT id FROM sessions WHERE id = ANY(\(ids)::bigint[]) AND revoked_at IS NULL
                    ORDER BY id
                    FOR UPDATE
                )
                UPDATE sessions
                SET last_seen_at = GREATEST(sessions.last_seen_at, t.last_seen_at),
                    idle_expires_at = GREATEST(sessions.idle_expires_at, t.idle_expires_at)
                FROM (
                    SELECT id, max(last_seen_at) AS last_seen_at, max(idle_expires_at) AS idle_expires_at
                    FROM unnest(\(ids)::bigint[], \(lastSeen)::bigint[], \(idleExpiries)::bigint[])
                        AS u(id, last_seen_at, idle_expires_at)
                    GROUP BY id
                ) AS t
                WHERE sessions.id = t.id AND sessions.revoked_at IS NULL
                  AND sessions.id IN (SELECT id FROM locked)
                """)
        }
    }

    /// A live session is one neither revoked nor expired at `now`.
    public func revokeSession(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> Bool {
        try await write("revoke session") { connection in
            try await connection.count("""
                UPDATE sessions SET revoked_at = \(now.milliseconds)
                WHERE token_hash = \(tokenHash.bytea) AND revoked_at IS NULL
                  AND idle_expires_at > \(now.milliseconds) AND absolute_expires_at > \(now.milliseconds)
                RETURNING 1
                """) > 0
        }
    }

    /// Counts only sessions that were live (neither revoked nor expired) at `now`; an
    /// unknown user has none.
    public func revokeSessions(
        userID: UserID,
        revoking: SessionRevocation,
        at now: Timestamp
    ) async throws(AuthError) -> Int {
        try await write("revoke sessions") { connection in
            try await PostgresRows.revokeSessions(connection, userID: userID, revoking: revoking, at: now)
        }
    }

    /// Sessions past either expiry, or revoked, before `cutoff`: nobody can use them again.
    /// Counted in the database: a prune may delete many rows.
    public func deleteSessions(endedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune sessions") { connection in
            Int(try await connection.value(Int64.self, """
                WITH deleted AS (
                    DELETE FROM sessions
                    WHERE revoked_at < \(cutoff.milliseconds) OR idle_expires_at < \(cutoff.milliseconds)
                       OR absolute_expires_at < \(cutoff.milliseconds)
                    RETURNING 1
                )
                SELECT count(*) FROM deleted
                """) ?? 0)
        }
    }
}

/// The token check as a named prepared statement: parsed and planned once per pooled
/// connection, then only bound and run (every cache miss of every call makes one).
struct AuthenticateStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT \(PostgresRows.userColumns),
               sessions.id, sessions.created_at, sessions.last_seen_at,
               sessions.idle_expires_at, sessions.absolute_expires_at
        FROM sessions JOIN users ON users.id = sessions.user_id
        WHERE sessions.token_hash = $1 AND sessions.revoked_at IS NULL
          AND sessions.idle_expires_at > $2 AND sessions.absolute_expires_at > $2
          AND NOT users.blocked
        """
    static let bindingDataTypes: [PostgresDataType] = [.bytea, .int8]

    /// The user's columns first, in `userColumns`' order, then the session's.
    typealias Row = (
        String, String, String?, Bool, Int64, Int64, [String], [String], [String],
        Int64, Int64, Int64, Int64, Int64
    )

    let tokenHash: [UInt8]
    let now: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(tokenHash.bytea)
        bindings.append(now)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
