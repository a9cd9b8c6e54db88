public import AuthCore
internal import GRDB

extension SQLiteStorage {
    /// Role names the user does not know yet are created on the fly (a role is just a name),
    /// in the same transaction. Duplicate role names count once.
    public func insertUser(_ user: NewUser, session: NewSession?) async throws(AuthError) -> User {
        if let session, session.userID != user.id {
            throw AuthError(.internal, "the first session of user \(user.id) names user \(session.userID)")
        }
        return try await write("insert user", email: user.email) { db in
            let stored = try Self.insert(user, db)
            if let session {
                _ = try Self.insert(session, db)
            }
            return stored
        }
    }

    public func user(id: UserID) async throws(AuthError) -> User? {
        try await read("read user") { db in
            try Rows.user(db, id: id)
        }
    }

    /// Blocked users are returned too: whether they may sign in is the caller's decision.
    public func credentials(email: String) async throws(AuthError) -> UserCredentials? {
        try await read("read credentials") { db in
            try Rows.credentials(db, .email(email))
        }
    }

    public func credentials(id: UserID) async throws(AuthError) -> UserCredentials? {
        try await read("read credentials") { db in
            try Rows.credentials(db, .id(id))
        }
    }

    /// Removals apply before sets, so a name in both ends up set.
    public func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User {
        try await write("update user", email: changes.email) { db in
            try db.cachedStatement(sql: """
                UPDATE users SET email = coalesce(?, email), updated_at = ? WHERE id = ?
                """).execute(arguments: [changes.email, now, id])
            guard db.changesCount > 0 else { throw Self.notFound(id) }
            try Rows.changeAttributes(
                db, userID: id, set: changes.setAttributes, remove: changes.removeAttributes, maximumCount: changes.maximumAttributes)
            guard let user = try Rows.user(db, id: id) else { throw Self.notFound(id) }
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
        try await write("set password") { db in
            guard try Rows.setPasswordHash(db, userID: userID, hash: hash, at: now) else { throw Self.notFound(userID) }
            _ = try Rows.revokeSessions(db, userID: userID, revoking: revoking, at: now)
        }
    }

    /// Inserts the user row, its attributes and roles (creating missing role rows).
    static func insert(_ user: NewUser, _ db: Database) throws -> User {
        let roles = Array(Set(user.roles)).sorted()
        try db.cachedStatement(sql: """
            INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [user.id, user.email, user.passwordHash, false, user.createdAt, user.createdAt])
        try Rows.changeAttributes(db, userID: user.id, set: user.attributes)
        let createRole = try db.cachedStatement(sql: "INSERT OR IGNORE INTO roles (name, created_at) VALUES (?, ?)")
        let grantRole = try db.cachedStatement(sql: """
            INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = ?
            """)
        for role in roles {
            try createRole.execute(arguments: [role, user.createdAt])
            try grantRole.execute(arguments: [user.id, role])
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
}
