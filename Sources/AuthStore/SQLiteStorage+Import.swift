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
            encodedHeaders[user.id] = try StoredHeaders.encode(invitation.email.headers)
        }
        let headers = encodedHeaders
        return try await write("import users") { db in
            var roleNames: [String] = []
            var seenRoles = Set<String>()
            for user in users {
                for role in user.roles ?? [] where seenRoles.insert(role).inserted { roleNames.append(role) }
            }
            let roleIDs = try Rows.existingRoles(db, roleNames)

            let find = try db.cachedStatement(sql: "SELECT id FROM users WHERE email = ?")
            let insertUser = try db.cachedStatement(sql: """
                INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let updateUser = try db.cachedStatement(sql: """
                UPDATE users SET password_hash = coalesce(?, password_hash), blocked = coalesce(?, blocked), updated_at = ?
                WHERE id = ?
                """)

            var outcomes: [ImportWriteOutcome] = []
            outcomes.reserveCapacity(users.count)
            for user in users {
                let id: UserID
                let outcome: ImportWriteOutcome
                let roles = user.roles.map { $0.compactMap { roleIDs[$0] } }
                if let existing = try UserID.fetchOne(find, arguments: [user.email]) {
                    switch onExisting {
                    case .skip:
                        outcomes.append(.skipped)
                        continue
                    case .fail:
                        outcomes.append(.exists)
                        continue
                    case .update:
                        id = existing
                        try updateUser.execute(arguments: [user.passwordHash, user.blocked, now, id])
                        if let roles {
                            try Rows.replaceRoles(db, userID: id, roleIDs: roles)
                        }
                        if user.passwordHash != nil || user.blocked == true {
                            _ = try Rows.revokeSessions(db, userID: id, revoking: .all, at: now)
                        }
                        outcome = .updated
                    }
                } else {
                    id = user.id
                    try insertUser.execute(arguments: [id, user.email, user.passwordHash, user.blocked ?? false, now, now])
                    try Rows.grantRoles(db, userID: id, roleIDs: roles ?? [])
                    if let invitation = user.invitation, let encoded = headers[user.id] {
                        try Rows.insertCode(invitation.record, db)
                        try Self.enqueue(invitation.email, headers: encoded, db)
                    }
                    outcome = .created
                }
                try Rows.changeAttributes(db, userID: id, set: user.attributes)
                outcomes.append(outcome)
            }
            return outcomes
        }
    }
}
