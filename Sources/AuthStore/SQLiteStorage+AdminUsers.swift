public import AuthCore
internal import GRDB

extension SQLiteStorage {
    /// One statement, assembled from the filters given (so at most 16 cached variants),
    /// that walks the unique email index in order: the prefix is a range on it, the
    /// page starts after `afterEmail` on it, and the role, group and blocked filters
    /// are checked per user by primary key. An unknown role or group is `.notFound`
    /// (field "role" or "group"); a group without roles has no members.
    public func listUsers(filter: UserFilter, afterEmail: String?, limit: Int) async throws(AuthError) -> [User] {
        guard limit > 0 else { return [] }
        return try await read("list users") { db in
            var conditions: [String] = []
            var arguments: [String: (any DatabaseValueConvertible)?] = ["limit": limit]

            // Lower bound: the larger of the prefix and the page start (SQLite compares
            // TEXT bytewise, as UTF-8), so the index is entered where the page begins.
            if let prefix = filter.emailPrefix, !prefix.isEmpty {
                if let afterEmail, !afterEmail.utf8.lexicographicallyPrecedes(prefix.utf8) {
                    conditions.append("email > :after")
                    arguments["after"] = afterEmail
                } else {
                    conditions.append("email >= :low")
                    arguments["low"] = prefix
                }
                if let high = UserFilter.upperBound(ofPrefix: prefix) {
                    conditions.append("email < :high")
                    arguments["high"] = high
                }
            } else if let afterEmail {
                conditions.append("email > :after")
                arguments["after"] = afterEmail
            }

            if let role = filter.role {
                guard let roleID = try Rows.roleID(db, name: role) else {
                    throw AuthError(.notFound, "role \(role) not found", field: "role")
                }
                conditions.append("EXISTS (SELECT 1 FROM user_roles WHERE user_id = users.id AND role_id = :role)")
                arguments["role"] = roleID
            }

            if let group = filter.group {
                guard let groupID = try Rows.groupID(db, name: group) else {
                    throw Rows.groupNotFound(group, field: "group")
                }
                let roleCount = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM group_roles WHERE group_id = ?"),
                    arguments: [groupID]) ?? 0
                guard roleCount > 0 else { return [] }
                conditions.append("""
                    (SELECT count(*) FROM group_roles JOIN user_roles
                       ON user_roles.user_id = users.id AND user_roles.role_id = group_roles.role_id
                     WHERE group_roles.group_id = :group) = :groupRoleCount
                    """)
                arguments["group"] = groupID
                arguments["groupRoleCount"] = roleCount
            }

            if let blocked = filter.blocked {
                conditions.append("blocked = :blocked")
                arguments["blocked"] = blocked
            }

            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let statement = try db.cachedStatement(sql: """
                SELECT \(UserRow.columns) FROM users \(whereClause) ORDER BY email LIMIT :limit
                """)
            let rows = try UserRow.fetchCursor(statement, arguments: StatementArguments(arguments))
            var users: [User] = []
            while let row = try rows.next() {
                users.append(try Rows.user(db, row))
            }
            return users
        }
    }

    /// Removals apply before sets, so a name in both ends up set. Roles, when given, are
    /// checked before anything is written; a new password hash revokes every live session.
    /// A new email voids every live code (what went to the old address, and a pending
    /// self-service change) and queues `changes.notices`.
    public func updateUser(id: UserID, adminChanges changes: AdminUserChanges, at now: Timestamp) async throws(AuthError) -> User {
        var encoded: [(NewOutboxMessage, String)] = []
        for notice in changes.notices {
            encoded.append((notice, try StoredHeaders.encode(notice.headers)))
        }
        let notices = encoded
        return try await write("update user", email: changes.email) { db in
            let previousEmail = try String.fetchOne(db.cachedStatement(sql: "SELECT email FROM users WHERE id = ?"), arguments: [id])
            try db.cachedStatement(sql: """
                UPDATE users SET email = coalesce(?, email), password_hash = coalesce(?, password_hash), updated_at = ?
                WHERE id = ?
                """).execute(arguments: [changes.email, changes.passwordHash, now, id])
            guard db.changesCount > 0 else { throw Self.notFound(id) }
            if let roles = changes.roles {
                try Rows.replaceRoles(db, userID: id, roleIDs: try Rows.existingRoles(db, roles).values)
            }
            try Rows.changeAttributes(
                db, userID: id, set: changes.setAttributes, remove: changes.removeAttributes, maximumCount: changes.maximumAttributes)
            if changes.passwordHash != nil {
                _ = try Rows.revokeSessions(db, userID: id, revoking: .all, at: now)
            }
            if let email = changes.email, email != previousEmail {
                try Rows.voidLiveCodes(db, userID: id, at: now)
                for (notice, headers) in notices {
                    try Self.enqueue(notice, headers: headers, db)
                }
            }
            guard let user = try Rows.user(db, id: id) else { throw Self.notFound(id) }
            return user
        }
    }

    public func setBlocked(id: UserID, blocked: Bool, at now: Timestamp) async throws(AuthError) -> User {
        try await write(blocked ? "block user" : "unblock user") { db in
            try db.cachedStatement(sql: "UPDATE users SET blocked = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [blocked, now, id])
            guard db.changesCount > 0 else { throw Self.notFound(id) }
            if blocked {
                _ = try Rows.revokeSessions(db, userID: id, revoking: .all, at: now)
            }
            guard let user = try Rows.user(db, id: id) else { throw Self.notFound(id) }
            return user
        }
    }

    /// Attributes, roles, sessions and codes go by cascade; queued emails stay.
    public func deleteUser(id: UserID) async throws(AuthError) -> Bool {
        try await write("delete user") { db in
            try db.cachedStatement(sql: "DELETE FROM users WHERE id = ?").execute(arguments: [id])
            return db.changesCount > 0
        }
    }
}
