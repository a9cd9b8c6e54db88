public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    public func existingEmails(_ emails: [String]) async throws(AuthError) -> Set<String> {
        guard !emails.isEmpty else { return [] }
        return try await readStatement("find existing emails") { connection in
            Set(try await connection.values(String.self, "SELECT email FROM users WHERE email = ANY(\(emails))"))
        }
    }

    /// Sorted bytewise: the column is COLLATE "C".
    public func attributeNames() async throws(AuthError) -> [String] {
        try await readStatement("list attribute names") { connection in
            try await connection.values(String.self, "SELECT DISTINCT name FROM user_attributes ORDER BY name")
        }
    }

    /// The batch is decided in memory against one read of its emails, then written with a
    /// few set-based statements (arrays bound once each), so a batch of thousands costs about
    /// ten round trips, not several per user. New users are inserted with `ON CONFLICT DO
    /// NOTHING`: an email another transaction committed after this one's snapshot is a
    /// serialization failure there (SERIALIZABLE), so the whole body runs again and the
    /// policy sees that user; an email that is merely in flight is waited for first.
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
        return try await write("import users") { connection in
            var roleNames: [String] = []
            var seenRoles = Set<String>()
            for user in users {
                for role in user.roles ?? [] where seenRoles.insert(role).inserted { roleNames.append(role) }
            }
            if let missing = try await PostgresRows.missingRoles(connection, roleNames).first {
                throw AuthError.invalidArgument("role \(missing) does not exist", field: "roles")
            }

            var known: [String: UserID] = [:]
            for row in try await connection.rows("SELECT email, id FROM users WHERE email = ANY(\(users.map(\.email)))") {
                let (email, id) = try row.decode((String, String).self)
                known[email] = UserID(rawValue: id)
            }

            var plan = ImportPlan()
            var outcomes: [ImportWriteOutcome] = []
            outcomes.reserveCapacity(users.count)
            for user in users {
                if let existing = known[user.email] {
                    switch onExisting {
                    case .skip:
                        outcomes.append(.skipped)
                    case .fail:
                        outcomes.append(.exists)
                    case .update:
                        plan.update(existing, with: user)
                        outcomes.append(.updated)
                    }
                } else {
                    plan.create(user)
                    known[user.email] = user.id
                    outcomes.append(.created)
                }
            }
            try await plan.write(connection, headers: headers, at: now)
            return outcomes
        }
    }
}

/// What an import batch changes, one entry per user (in the batch's order), with every row
/// of the batch that names the user folded into it in order: so each user appears once in
/// each set-based statement, and the result is what applying the rows one by one gives.
private struct ImportPlan {
    struct Change {
        var id: UserID
        var email: String
        /// Inserted by this batch; otherwise an existing user, updated.
        var isNew: Bool
        /// Set over the user's attributes (others stay).
        var attributes: [String: String]
        /// For a new user its roles; for an existing one, nil keeps its roles.
        var roles: [String]?
        /// Nil keeps the hash (or, for a new user, leaves it without one).
        var passwordHash: String?
        /// Nil keeps the flag (a new user is then not blocked).
        var blocked: Bool?
        /// A new hash or blocking ends the existing user's sessions.
        var endsSessions: Bool
        var invitation: Invitation?
    }

    private(set) var changes: [Change] = []
    private var indexByID: [UserID: Int] = [:]

    mutating func create(_ user: ImportedUser) {
        indexByID[user.id] = changes.count
        changes.append(Change(
            id: user.id, email: user.email, isNew: true, attributes: user.attributes, roles: user.roles ?? [],
            passwordHash: user.passwordHash, blocked: user.blocked ?? false, endsSessions: false,
            invitation: user.invitation))
    }

    /// Folds an update of `id` (an existing user, or one this batch creates) into its change.
    mutating func update(_ id: UserID, with user: ImportedUser) {
        let index: Int
        if let existing = indexByID[id] {
            index = existing
        } else {
            index = changes.count
            indexByID[id] = index
            changes.append(Change(
                id: id, email: user.email, isNew: false, attributes: [:], roles: nil, passwordHash: nil, blocked: nil,
                endsSessions: false, invitation: nil))
        }
        changes[index].attributes.merge(user.attributes) { _, new in new }
        if let roles = user.roles { changes[index].roles = roles }
        if let hash = user.passwordHash { changes[index].passwordHash = hash }
        if let blocked = user.blocked { changes[index].blocked = blocked }
        if !changes[index].isNew, user.passwordHash != nil || user.blocked == true {
            changes[index].endsSessions = true
        }
    }

    /// Every change, as a handful of statements; arrays stand for nullable columns with a
    /// mask beside them, since postgres-nio binds no NULL array elements.
    func write(_ connection: StoreConnection, headers: [UserID: String], at now: Timestamp) async throws {
        let created = changes.filter(\.isNew)
        let updated = changes.filter { !$0.isNew }
        let milliseconds = now.milliseconds

        if !created.isEmpty {
            let inserted = try await connection.count("""
                INSERT INTO users (id, email, password_hash, blocked, created_at, updated_at)
                SELECT t.id, t.email, CASE WHEN t.has_hash THEN t.hash END, t.blocked, \(milliseconds), \(milliseconds)
                FROM unnest(\(created.map(\.id.rawValue))::text[], \(created.map(\.email))::text[],
                            \(created.map { $0.passwordHash ?? "" })::text[], \(created.map { $0.passwordHash != nil })::boolean[],
                            \(created.map { $0.blocked ?? false })::boolean[])
                     AS t(id, email, hash, has_hash, blocked)
                ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING
                RETURNING 1
                """)
            // A conflict with a row this snapshot cannot see aborts the statement instead
            // (serialization failure), and every visible email was found above.
            guard inserted == created.count else {
                throw AuthError.storage("import users: \(created.count - inserted) new emails were taken during the import")
            }
        }

        if !updated.isEmpty {
            try await connection.run("""
                UPDATE users
                SET password_hash = CASE WHEN t.has_hash THEN t.hash ELSE users.password_hash END,
                    blocked = CASE WHEN t.has_blocked THEN t.blocked ELSE users.blocked END,
                    updated_at = \(milliseconds)
                FROM unnest(\(updated.map(\.id.rawValue))::text[],
                            \(updated.map { $0.passwordHash ?? "" })::text[], \(updated.map { $0.passwordHash != nil })::boolean[],
                            \(updated.map { $0.blocked ?? false })::boolean[], \(updated.map { $0.blocked != nil })::boolean[])
                     AS t(id, hash, has_hash, blocked, has_blocked)
                WHERE users.id = t.id
                """)
            let ending = updated.filter(\.endsSessions).map(\.id.rawValue)
            if !ending.isEmpty {
                try await connection.run("""
                    UPDATE sessions SET revoked_at = \(milliseconds)
                    WHERE user_id = ANY(\(ending)) AND revoked_at IS NULL
                      AND idle_expires_at > \(milliseconds) AND absolute_expires_at > \(milliseconds)
                    """)
            }
            let replacing = updated.filter { $0.roles != nil }.map(\.id.rawValue)
            if !replacing.isEmpty {
                try await connection.run("DELETE FROM user_roles WHERE user_id = ANY(\(replacing))")
            }
        }

        var roleUsers: [String] = []
        var roleNames: [String] = []
        var attributeUsers: [String] = []
        var attributeNames: [String] = []
        var attributeValues: [String] = []
        for change in changes {
            for role in Set(change.roles ?? []) {
                roleUsers.append(change.id.rawValue)
                roleNames.append(role)
            }
            for (name, value) in change.attributes {
                attributeUsers.append(change.id.rawValue)
                attributeNames.append(name)
                attributeValues.append(value)
            }
        }
        if !roleUsers.isEmpty {
            try await connection.run("""
                INSERT INTO user_roles (user_id, role_id)
                SELECT t.user_id, roles.id FROM unnest(\(roleUsers)::text[], \(roleNames)::text[]) AS t(user_id, name)
                JOIN roles ON roles.name = t.name
                ON CONFLICT DO NOTHING
                """)
        }
        if !attributeUsers.isEmpty {
            try await connection.run("""
                INSERT INTO user_attributes (user_id, name, value)
                SELECT * FROM unnest(\(attributeUsers)::text[], \(attributeNames)::text[], \(attributeValues)::text[])
                ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value
                """)
        }

        let invited = created.compactMap { change in change.invitation.map { (change.id, $0) } }
        if !invited.isEmpty {
            let codes = invited.map(\.1.record)
            try await connection.run("""
                INSERT INTO one_time_codes (user_id, purpose, code_hash, created_at, expires_at, new_email)
                SELECT t.user_id, t.purpose, t.code_hash, t.created_at, t.expires_at,
                       CASE WHEN t.has_new_email THEN t.new_email END
                FROM unnest(\(codes.map(\.userID.rawValue))::text[], \(codes.map(\.purpose.rawValue))::text[],
                            \(codes.map(\.codeHash.bytea))::bytea[],
                            \(codes.map(\.createdAt.milliseconds))::bigint[], \(codes.map(\.expiresAt.milliseconds))::bigint[],
                            \(codes.map { $0.newEmail ?? "" })::text[], \(codes.map { $0.newEmail != nil })::boolean[])
                     AS t(user_id, purpose, code_hash, created_at, expires_at, new_email, has_new_email)
                """)
            let emails = invited.map(\.1.email)
            let encoded = try invited.map { id, _ in
                guard let header = headers[id] else { throw AuthError.storage("import users: no headers for the invitation of \(id)") }
                return header
            }
            // In the batch's order, so that ids (the outbox's tie-break) follow it as on SQLite.
            try await connection.run("""
                INSERT INTO outbox
                    (message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, state, next_attempt_at)
                SELECT t.message_id, t.kind, t.sender, t.recipient, t.subject, t.text_body, t.html_body, t.headers,
                       t.created_at, \(OutboxState.queued.rawValue), t.created_at
                FROM unnest(\(emails.map(\.messageID))::text[], \(emails.map(\.kind.rawValue))::text[],
                            \(emails.map(\.sender))::text[], \(emails.map(\.recipient))::text[], \(emails.map(\.subject))::text[],
                            \(emails.map(\.textBody))::text[], \(emails.map(\.htmlBody))::text[], \(encoded)::text[],
                            \(emails.map(\.createdAt.milliseconds))::bigint[]) WITH ORDINALITY
                     AS t(message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, ord)
                ORDER BY t.ord
                """)
        }
    }
}
