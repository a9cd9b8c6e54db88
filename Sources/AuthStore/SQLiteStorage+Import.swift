public import AuthCore
internal import GRDB

extension SQLiteStorage {
    public func existingEmails(_ emails: [String]) async throws(AuthError) -> Set<String> {
        guard !emails.isEmpty else { return [] }
        return try await read("find existing emails") { db in
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM users WHERE email = ?")
            var found = Set<String>()
            for email in emails where try Bool.fetchOne(statement, arguments: [email]) != nil {
                found.insert(email)
            }
            return found
        }
    }

    public func attributeNames() async throws(AuthError) -> [String] {
        try await read("list attribute names") { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT name FROM user_attributes"))
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    /// Every statement is prepared once per batch (cached), so a batch of thousands of users
    /// costs a few inserts each and one commit.
    public func importUsers(
        _ users: [ImportedUser],
        onExisting: ExistingUserPolicy,
        at now: Timestamp
    ) async throws(AuthError) -> [ImportWriteOutcome] {
        guard !users.isEmpty else { return [] }
        var encodedHeaders: [UserID: String] = [:]
        for user in users {
            guard let invitation = user.invitation else { continue }
            guard invitation.record.userID == user.id, invitation.record.purpose == .invitation else {
                throw AuthError(.internal, "the invitation of imported user \(user.id) names user \(invitation.record.userID) or another purpose")
            }
            encodedHeaders[user.id] = try Self.encodeHeaders(invitation.email.headers)
        }
        let headers = encodedHeaders
        return try await write("import users") { db in
            var roleNames: [String] = []
            var seenRoles = Set<String>()
            for user in users {
                for role in user.roles ?? [] where seenRoles.insert(role).inserted { roleNames.append(role) }
            }
            let roleIDs = try Rows.existingRoles(db, roleNames)
            let time = now.milliseconds

            let find = try db.cachedStatement(sql: "SELECT id FROM users WHERE email = ?")
            let insertUser = try db.cachedStatement(sql: """
                INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let updateUser = try db.cachedStatement(sql: """
                UPDATE users SET password_hash = coalesce(?, password_hash), blocked = coalesce(?, blocked), updated_at = ?
                WHERE id = ?
                """)
            let setAttribute = try db.cachedStatement(sql: """
                INSERT INTO user_attributes (user_id, name, value) VALUES (?, ?, ?)
                ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value
                """)
            let clearRoles = try db.cachedStatement(sql: "DELETE FROM user_roles WHERE user_id = ?")
            let grant = try db.cachedStatement(sql: "INSERT OR IGNORE INTO user_roles (user_id, role_id) VALUES (?, ?)")

            var outcomes: [ImportWriteOutcome] = []
            outcomes.reserveCapacity(users.count)
            for user in users {
                let id: String
                let outcome: ImportWriteOutcome
                if let existing = try String.fetchOne(find, arguments: [user.email]) {
                    switch onExisting {
                    case .skip:
                        outcomes.append(.skipped)
                        continue
                    case .fail:
                        outcomes.append(.exists)
                        continue
                    case .update:
                        id = existing
                        try updateUser.execute(arguments: [user.passwordHash, user.blocked, time, id])
                        if let roles = user.roles {
                            try clearRoles.execute(arguments: [id])
                            for role in roles { try grant.execute(arguments: [id, roleIDs[role]]) }
                        }
                        if user.passwordHash != nil || user.blocked == true {
                            _ = try Rows.revokeSessions(db, userID: UserID(rawValue: id), revoking: .all, at: now)
                        }
                        outcome = .updated
                    }
                } else {
                    id = user.id.rawValue
                    try insertUser.execute(arguments: [id, user.email, user.passwordHash, user.blocked ?? false, time, time])
                    for role in user.roles ?? [] { try grant.execute(arguments: [id, roleIDs[role]]) }
                    if let invitation = user.invitation, let encoded = headers[user.id] {
                        try Self.insertCode(invitation.record, db)
                        try Self.enqueue(invitation.email, headers: encoded, db)
                    }
                    outcome = .created
                }
                for (name, value) in user.attributes {
                    try setAttribute.execute(arguments: [id, name, value])
                }
                outcomes.append(outcome)
            }
            return outcomes
        }
    }
}
