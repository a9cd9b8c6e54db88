public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    /// Role names the user does not know yet are created on the fly (a role is just a name),
    /// in the same transaction. Duplicate role names count once. Two sign-ups with one email
    /// at once: the unique `users_email_key` lets one commit, the other is `.alreadyExists`.
    public func insertUser(_ user: NewUser, session: NewSession?) async throws(AuthError) -> User {
        if let session, session.userID != user.id {
            throw AuthError(.internal, "the first session of user \(user.id) names user \(session.userID)")
        }
        return try await write("insert user", email: user.email) { connection in
            let stored = try await Self.insertUser(user, connection)
            if let session {
                _ = try await Self.insertSession(session, connection)
            }
            return stored
        }
    }

    public func user(id: UserID) async throws(AuthError) -> User? {
        try await readStatement("read user") { connection in
            try await PostgresRows.user(connection, id: id)
        }
    }

    /// Blocked users are returned too: whether they may sign in is the caller's decision.
    public func credentials(email: String) async throws(AuthError) -> UserCredentials? {
        try await readStatement("read credentials") { connection in
            try await PostgresRows.credentials(connection, .email(email))
        }
    }

    public func credentials(id: UserID) async throws(AuthError) -> UserCredentials? {
        try await readStatement("read credentials") { connection in
            try await PostgresRows.credentials(connection, .id(id))
        }
    }

    /// Removals apply before sets, so a name in both ends up set.
    public func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User {
        try await write("update user", email: changes.email) { connection in
            let changed = try await connection.count("""
                UPDATE users SET email = coalesce(\(changes.email), email), updated_at = \(now.milliseconds)
                WHERE id = \(id.rawValue) RETURNING 1
                """)
            guard changed > 0 else { throw Self.notFound(id) }
            try await PostgresRows.changeAttributes(
                connection, userID: id, set: changes.setAttributes, remove: changes.removeAttributes,
                maximumCount: changes.maximumAttributes)
            guard let user = try await PostgresRows.user(connection, id: id) else { throw Self.notFound(id) }
            return user
        }
    }

    /// Also bumps `updatedAt`. An unknown user is `.notFound`.
    public func setPasswordHash(
        userID: UserID,
        hash: String,
        revoking: SessionRevocation,
        at now: Timestamp
    ) async throws(AuthError) {
        try await write("set password") { connection in
            guard try await PostgresRows.setPasswordHash(connection, userID: userID, hash: hash, at: now) else {
                throw Self.notFound(userID)
            }
            _ = try await PostgresRows.revokeSessions(connection, userID: userID, revoking: revoking, at: now)
        }
    }

    /// Inserts the user row, its attributes and roles (creating missing role rows), and
    /// returns the user as stored, without reading it back.
    static func insertUser(_ user: NewUser, _ connection: StoreConnection) async throws -> User {
        let roles = Array(Set(user.roles)).sorted()
        try await connection.run("""
            INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at)
            VALUES (\(user.id.rawValue), \(user.email), \(user.passwordHash), FALSE,
                    \(user.createdAt.milliseconds), \(user.createdAt.milliseconds))
            """)
        try await PostgresRows.changeAttributes(connection, userID: user.id, set: user.attributes)
        if !roles.isEmpty {
            // A role another transaction creates meanwhile makes this one retry (SERIALIZABLE),
            // and the retry finds it.
            try await connection.run("""
                INSERT INTO roles (name, created_at)
                SELECT name, \(user.createdAt.milliseconds) FROM unnest(\(roles)::text[]) AS t(name)
                ON CONFLICT (name) DO NOTHING
                """)
            try await PostgresRows.addRoles(connection, userID: user.id, names: roles)
        }
        return User(
            id: user.id,
            email: user.email,
            attributes: user.attributes,
            roles: roles,
            blocked: false,
            hasPassword: user.passwordHash != nil,
            createdAt: user.createdAt,
            updatedAt: user.createdAt
        )
    }

    /// Inserts a session row in the caller's transaction (the caller checked its user).
    static func insertSession(_ session: NewSession, _ connection: StoreConnection) async throws -> SessionRecord {
        let inserted = try await connection.value(Int64.self, """
            INSERT INTO sessions
                (user_id, token_hash, created_at, last_seen_at, idle_expires_at, absolute_expires_at, client_address)
            VALUES (\(session.userID.rawValue), \(session.tokenHash.bytea), \(session.createdAt.milliseconds),
                    \(session.createdAt.milliseconds), \(session.idleExpiresAt.milliseconds),
                    \(session.absoluteExpiresAt.milliseconds), \(session.clientAddress))
            RETURNING id
            """)
        guard let id = inserted else { throw AuthError.storage("insert session: no id returned") }
        return SessionRecord(
            id: id,
            userID: session.userID,
            tokenHash: session.tokenHash,
            createdAt: session.createdAt,
            lastSeenAt: session.createdAt,
            idleExpiresAt: session.idleExpiresAt,
            absoluteExpiresAt: session.absoluteExpiresAt
        )
    }
}
