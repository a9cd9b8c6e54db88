public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    /// One statement for the page, assembled from the filters given (placeholders only,
    /// never values, in the SQL), that walks the unique email index in order: the prefix is
    /// a range on it, the page starts after `afterEmail` on it, and the role, group and
    /// blocked filters are checked per user by primary key. An unknown role or group is
    /// `.notFound` (field "role" or "group"); a group without roles has no members.
    public func listUsers(filter: UserFilter, afterEmail: String?, limit: Int) async throws(AuthError) -> [User] {
        guard limit > 0 else { return [] }
        return try await read("list users") { connection in
            var conditions: [String] = []
            var binds = PostgresBindings()
            /// Binds `value` and returns its placeholder.
            func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
                binds.append(value)
                return "$\(binds.count)"
            }

            // Lower bound: the larger of the prefix and the page start (email is COLLATE "C":
            // bytewise, as UTF-8), so the index is entered where the page begins.
            if let prefix = filter.emailPrefix, !prefix.isEmpty {
                if let afterEmail, !afterEmail.utf8.lexicographicallyPrecedes(prefix.utf8) {
                    conditions.append("email > \(bind(afterEmail))")
                } else {
                    conditions.append("email >= \(bind(prefix))")
                }
                if let high = UserFilter.upperBound(ofPrefix: prefix) {
                    conditions.append("email < \(bind(high))")
                }
            } else if let afterEmail {
                conditions.append("email > \(bind(afterEmail))")
            }

            if let role = filter.role {
                guard let roleID = try await connection.value(Int64.self, "SELECT id FROM roles WHERE name = \(role)") else {
                    throw AuthError(.notFound, "role \(role) not found", field: "role")
                }
                conditions.append("EXISTS (SELECT 1 FROM user_roles WHERE user_id = users.id AND role_id = \(bind(roleID)))")
            }

            if let group = filter.group {
                guard let groupID = try await connection.value(Int64.self, #"SELECT id FROM "groups" WHERE name = \#(group)"#)
                else {
                    throw AuthError(.notFound, "group \(group) not found", field: "group")
                }
                let roleCount = try await connection.value(
                    Int64.self, "SELECT count(*) FROM group_roles WHERE group_id = \(groupID)") ?? 0
                guard roleCount > 0 else { return [] }
                conditions.append("""
                    (SELECT count(*) FROM group_roles JOIN user_roles
                       ON user_roles.user_id = users.id AND user_roles.role_id = group_roles.role_id
                     WHERE group_roles.group_id = \(bind(groupID))) = \(bind(roleCount))
                    """)
            }

            if let blocked = filter.blocked {
                conditions.append("blocked = \(bind(blocked))")
            }

            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let sql = "SELECT \(PostgresRows.userColumns) FROM users \(whereClause) ORDER BY email LIMIT \(bind(Int64(limit)))"
            let rows = try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: binds))
            return try rows.map { try PostgresRows.credentials($0).user }
        }
    }

    /// Removals apply before sets, so a name in both ends up set. Roles, when given, are
    /// checked before they are written; a new password hash revokes every live session.
    /// A new email voids every live code (what went to the old address, and a pending
    /// self-service change) and queues `changes.notices`.
    public func updateUser(id: UserID, adminChanges changes: AdminUserChanges, at now: Timestamp) async throws(AuthError) -> User {
        try await write("update user", email: changes.email) { connection in
            let previousEmail = try await connection.value(String.self, "SELECT email FROM users WHERE id = \(id.rawValue)")
            let changed = try await connection.count("""
                UPDATE users SET email = coalesce(\(changes.email), email),
                    password_hash = coalesce(\(changes.passwordHash), password_hash), updated_at = \(now.milliseconds)
                WHERE id = \(id.rawValue) RETURNING 1
                """)
            guard changed > 0 else { throw Self.notFound(id) }
            if let roles = changes.roles {
                if let missing = try await PostgresRows.missingRoles(connection, roles).first {
                    throw AuthError.invalidArgument("role \(missing) does not exist", field: "roles")
                }
                try await PostgresRows.replaceRoles(connection, userID: id, names: roles)
            }
            try await PostgresRows.changeAttributes(
                connection, userID: id, set: changes.setAttributes, remove: changes.removeAttributes,
                maximumCount: changes.maximumAttributes)
            if changes.passwordHash != nil {
                _ = try await PostgresRows.revokeSessions(connection, userID: id, revoking: .all, at: now)
            }
            if let email = changes.email, email != previousEmail {
                try await PostgresRows.voidLiveCodes(connection, userID: id, at: now)
                for notice in changes.notices {
                    try await PostgresRows.enqueue(notice, connection)
                }
            }
            guard let user = try await PostgresRows.user(connection, id: id) else { throw Self.notFound(id) }
            return user
        }
    }

    public func setBlocked(id: UserID, blocked: Bool, at now: Timestamp) async throws(AuthError) -> User {
        try await write(blocked ? "block user" : "unblock user") { connection in
            let changed = try await connection.count("""
                UPDATE users SET blocked = \(blocked), updated_at = \(now.milliseconds) WHERE id = \(id.rawValue) RETURNING 1
                """)
            guard changed > 0 else { throw Self.notFound(id) }
            if blocked {
                _ = try await PostgresRows.revokeSessions(connection, userID: id, revoking: .all, at: now)
            }
            guard let user = try await PostgresRows.user(connection, id: id) else { throw Self.notFound(id) }
            return user
        }
    }

    /// Attributes, roles, sessions and codes go by cascade; queued emails stay.
    public func deleteUser(id: UserID) async throws(AuthError) -> Bool {
        try await write("delete user") { connection in
            try await connection.count("DELETE FROM users WHERE id = \(id.rawValue) RETURNING 1") > 0
        }
    }
}
