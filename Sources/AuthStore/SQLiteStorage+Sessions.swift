public import AuthCore
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    /// An unknown user is `.notFound`.
    public func insertSession(_ session: NewSession) async throws(AuthError) -> SessionRecord {
        try await write("insert session") { db in
            guard try Rows.userExists(db, id: session.userID) else { throw Self.notFound(session.userID) }
            return try Self.insert(session, db)
        }
    }

    static func insert(_ session: NewSession, _ db: Database) throws -> SessionRecord {
        try db.cachedStatement(sql: """
            INSERT INTO sessions
                (user_id, token_hash, created_at, last_seen_at, idle_expires_at, absolute_expires_at, client_address)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                session.userID,
                Data(session.tokenHash),
                session.createdAt,
                session.createdAt,
                session.idleExpiresAt,
                session.absoluteExpiresAt,
                session.clientAddress,
            ])
        return SessionRecord(
            id: db.lastInsertedRowID,
            userID: session.userID,
            tokenHash: session.tokenHash,
            createdAt: session.createdAt,
            lastSeenAt: session.createdAt,
            idleExpiresAt: session.idleExpiresAt,
            absoluteExpiresAt: session.absoluteExpiresAt
        )
    }

    /// The hot path: one read transaction of three indexed lookups (session by token hash
    /// joined with its user by primary key, then the user's attributes and roles by key
    /// prefix), so its cost does not grow with the number of users or sessions.
    public func authenticate(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> AuthenticatedSession? {
        try await hotRead("authenticate") { db in
            try Self.authenticate(db, tokenHash: tokenHash, now: now)
        }
    }

    /// The token check inside a read transaction (also what a synchronous caller would use).
    static func authenticate(_ db: Database, tokenHash: [UInt8], now: Timestamp) throws -> AuthenticatedSession? {
        let statement = try db.cachedStatement(sql: Queries.authenticate)
        let arguments: StatementArguments = ["hash": Data(tokenHash), "now": now]
        guard let row = try AuthenticatedSessionRow.fetchOne(statement, arguments: arguments) else { return nil }
        let user = row.user(
            attributes: try Rows.attributes(db, userID: row.userID),
            roles: try Rows.roles(db, userID: row.userID))
        return AuthenticatedSession(session: row.session(tokenHash: tokenHash), user: user)
    }

    /// Records uses in one transaction. Never moves either time backwards (touches may
    /// land out of order), and leaves a revoked or unknown session alone.
    public func touchSessions(_ touches: [SessionTouch]) async throws(AuthError) {
        guard !touches.isEmpty else { return }
        try await write("touch sessions") { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE sessions
                SET last_seen_at = max(last_seen_at, ?), idle_expires_at = max(idle_expires_at, ?)
                WHERE id = ? AND revoked_at IS NULL
                """)
            for touch in touches {
                try statement.execute(arguments: [touch.lastSeenAt, touch.idleExpiresAt, touch.sessionID])
            }
        }
    }

    /// A live session is one neither revoked nor expired at `now`.
    public func revokeSession(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> Bool {
        try await write("revoke session") { db in
            try db.cachedStatement(sql: """
                UPDATE sessions SET revoked_at = :now
                WHERE token_hash = :hash AND revoked_at IS NULL
                  AND idle_expires_at > :now AND absolute_expires_at > :now
                """).execute(arguments: ["now": now, "hash": Data(tokenHash)])
            return db.changesCount > 0
        }
    }

    /// Counts only sessions that were live (neither revoked nor expired) at `now`; an
    /// unknown user has none.
    public func revokeSessions(
        userID: UserID,
        revoking: SessionRevocation,
        at now: Timestamp
    ) async throws(AuthError) -> Int {
        try await write("revoke sessions") { db in
            try Rows.revokeSessions(db, userID: userID, revoking: revoking, at: now)
        }
    }

    /// Sessions past either expiry, or revoked, before `cutoff`: nobody can use them again.
    public func deleteSessions(endedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune sessions") { db in
            try db.cachedStatement(sql: """
                DELETE FROM sessions
                WHERE revoked_at < :cutoff OR idle_expires_at < :cutoff OR absolute_expires_at < :cutoff
                """).execute(arguments: ["cutoff": cutoff])
            return db.changesCount
        }
    }
}
