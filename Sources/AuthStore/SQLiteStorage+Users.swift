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
            try Rows.credentials(db, where: "email", email)
        }
    }

    public func credentials(id: UserID) async throws(AuthError) -> UserCredentials? {
        try await read("read credentials") { db in
            try Rows.credentials(db, where: "id", id.rawValue)
        }
    }

    /// Removals apply before sets, so a name in both ends up set.
    public func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User {
        try await write("update user", email: changes.email) { db in
            try db.cachedStatement(sql: """
                UPDATE users SET email = coalesce(?, email), updated_at = ? WHERE id = ?
                """).execute(arguments: [changes.email, now.milliseconds, id.rawValue])
            guard db.changesCount > 0 else { throw Self.notFound(id) }
            let remove = try db.cachedStatement(sql: "DELETE FROM user_attributes WHERE user_id = ? AND name = ?")
            for name in changes.removeAttributes {
                try remove.execute(arguments: [id.rawValue, name])
            }
            let set = try db.cachedStatement(sql: """
                INSERT INTO user_attributes (user_id, name, value) VALUES (?, ?, ?)
                ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value
                """)
            for (name, value) in changes.setAttributes {
                try set.execute(arguments: [id.rawValue, name, value])
            }
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
            try db.cachedStatement(sql: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [hash, now.milliseconds, userID.rawValue])
            guard db.changesCount > 0 else { throw Self.notFound(userID) }
            _ = try Rows.revokeSessions(db, userID: userID, revoking: revoking, at: now)
        }
    }

    /// Inserts the user row, its attributes and roles (creating missing role rows).
    static func insert(_ user: NewUser, _ db: Database) throws -> User {
        let roles = Array(Set(user.roles)).sorted()
        let created = user.createdAt.milliseconds
        try db.cachedStatement(sql: """
            INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at)
            VALUES (?, ?, ?, 0, ?, ?)
            """).execute(arguments: [user.id.rawValue, user.email, user.passwordHash, created, created])
        let setAttribute = try db.cachedStatement(sql: """
            INSERT INTO user_attributes (user_id, name, value) VALUES (?, ?, ?)
            """)
        for (name, value) in user.attributes {
            try setAttribute.execute(arguments: [user.id.rawValue, name, value])
        }
        let createRole = try db.cachedStatement(sql: "INSERT OR IGNORE INTO roles (name, created_at) VALUES (?, ?)")
        let grantRole = try db.cachedStatement(sql: """
            INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = ?
            """)
        for role in roles {
            try createRole.execute(arguments: [role, created])
            try grantRole.execute(arguments: [user.id.rawValue, role])
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
