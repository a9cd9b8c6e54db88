internal import AuthCore
internal import PostgresNIO

/// Where a code and its message are written: the real tables, or the decoy tables of the
/// same shape that ForgotPassword for an unknown email writes to (`issueDecoyCode`).
enum CodeTables {
    case real
    case decoy

    var codes: String {
        switch self {
        case .real: "one_time_codes"
        case .decoy: "decoy_one_time_codes"
        }
    }

    var outbox: String {
        switch self {
        case .real: "outbox"
        case .decoy: "decoy_outbox"
        }
    }
}

/// Reads and writes that several storage roles share.
enum PostgresRows {
    /// A user's columns with its attributes (names and values, by name) and roles (by name)
    /// as arrays, so that a whole `User` is one statement: one round trip and one snapshot.
    /// `UserColumns.decode` reads them.
    static let userColumns = """
        users.id, users.email, users.password_hash, users.blocked, users.created_at, users.updated_at,
        ARRAY(SELECT a.name FROM user_attributes a WHERE a.user_id = users.id ORDER BY a.name) AS attribute_names,
        ARRAY(SELECT a.value FROM user_attributes a WHERE a.user_id = users.id ORDER BY a.name) AS attribute_values,
        ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
              WHERE ur.user_id = users.id ORDER BY r.name) AS role_names
        """

    /// A row that selects `userColumns` first, as a user and its password hash.
    static func credentials(_ row: PostgresRow) throws -> UserCredentials {
        let (id, email, passwordHash, blocked, createdAt, updatedAt, names, values, roles) = try row.decode(
            (String, String, String?, Bool, Int64, Int64, [String], [String], [String]).self)
        let user = User(
            id: UserID(rawValue: id),
            email: email,
            attributes: Dictionary(zip(names, values), uniquingKeysWith: { first, _ in first }),
            roles: roles,
            blocked: blocked,
            hasPassword: passwordHash != nil,
            createdAt: Timestamp(milliseconds: createdAt),
            updatedAt: Timestamp(milliseconds: updatedAt)
        )
        return UserCredentials(user: user, passwordHash: passwordHash)
    }

    enum UserLookup {
        case id(UserID)
        case email(String)
    }

    static func credentials(_ connection: StoreConnection, _ lookup: UserLookup) async throws -> UserCredentials? {
        let row: PostgresRow?
        switch lookup {
        case .id(let id):
            row = try await connection.row("SELECT \(unescaped: userColumns) FROM users WHERE id = \(id.rawValue)")
        case .email(let email):
            row = try await connection.row("SELECT \(unescaped: userColumns) FROM users WHERE email = \(email)")
        }
        return try row.map(credentials)
    }

    static func user(_ connection: StoreConnection, id: UserID) async throws -> User? {
        try await credentials(connection, .id(id))?.user
    }

    static func userExists(_ connection: StoreConnection, id: UserID) async throws -> Bool {
        try await connection.row("SELECT 1 FROM users WHERE id = \(id.rawValue)") != nil
    }

    /// Locks the user's row for the rest of the transaction; false when there is none.
    static func lockUser(_ connection: StoreConnection, id: UserID) async throws -> Bool {
        try await connection.row("SELECT 1 FROM users WHERE id = \(id.rawValue) FOR UPDATE") != nil
    }

    /// Removes the attributes named in `remove`, then sets those of `set` (so a name in both
    /// ends up set): every write of attributes, for new users and changed ones.
    static func changeAttributes(
        _ connection: StoreConnection,
        userID: UserID,
        set: [String: String],
        remove: some Sequence<String> = [String](),
        maximumCount: Int? = nil
    ) async throws {
        let removed = Array(remove)
        if !removed.isEmpty {
            try await connection.run("""
                DELETE FROM user_attributes WHERE user_id = \(userID.rawValue) AND name = ANY(\(removed))
                """)
        }
        if !set.isEmpty {
            let names = Array(set.keys)
            let values = names.map { set[$0]! }
            try await connection.run("""
                INSERT INTO user_attributes (user_id, name, value)
                SELECT \(userID.rawValue), name, value FROM unnest(\(names)::text[], \(values)::text[]) AS t(name, value)
                ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value
                """)
        }
        if let maximumCount {
            let count = try await connection.value(
                Int64.self, "SELECT count(*) FROM user_attributes WHERE user_id = \(userID.rawValue)") ?? 0
            // Thrown inside the transaction: it rolls back, so nothing of the change is written.
            guard count <= maximumCount else {
                throw AuthError.invalidArgument(
                    "a user has at most \(maximumCount) attributes, this would make \(count)", field: "attributes")
            }
        }
    }

    /// Replaces the user's roles with `names` (which must all exist: the caller checked).
    static func replaceRoles(_ connection: StoreConnection, userID: UserID, names: [String]) async throws {
        try await connection.run("DELETE FROM user_roles WHERE user_id = \(userID.rawValue)")
        try await addRoles(connection, userID: userID, names: names)
    }

    static func addRoles(_ connection: StoreConnection, userID: UserID, names: [String]) async throws {
        guard !names.isEmpty else { return }
        try await connection.run("""
            INSERT INTO user_roles (user_id, role_id)
            SELECT \(userID.rawValue), id FROM roles WHERE name = ANY(\(names))
            ON CONFLICT DO NOTHING
            """)
    }

    /// Those of `names` that are not roles, in the order given.
    static func missingRoles(_ connection: StoreConnection, _ names: [String]) async throws -> [String] {
        guard !names.isEmpty else { return [] }
        let existing = Set(try await connection.values(String.self, "SELECT name FROM roles WHERE name = ANY(\(names))"))
        return names.filter { !existing.contains($0) }
    }

    /// Voids the user's live codes (neither used, voided nor expired at `now`) of `purpose`,
    /// or of every purpose: after the account's address changes, what went to the old
    /// address must not work.
    static func voidLiveCodes(
        _ connection: StoreConnection, userID: UserID, purpose: CodePurpose? = nil, at now: Timestamp,
        in tables: CodeTables = .real
    ) async throws {
        try await connection.run("""
            UPDATE \(unescaped: tables.codes) SET voided_at = \(now.milliseconds)
            WHERE user_id = \(userID.rawValue) AND (\(purpose?.rawValue)::text IS NULL OR purpose = \(purpose?.rawValue))
              AND used_at IS NULL AND voided_at IS NULL AND expires_at > \(now.milliseconds)
            """)
    }

    /// Sets the password hash and bumps `updated_at`; false when there is no such user.
    static func setPasswordHash(_ connection: StoreConnection, userID: UserID, hash: String, at now: Timestamp) async throws -> Bool {
        try await connection.count("""
            UPDATE users SET password_hash = \(hash), updated_at = \(now.milliseconds)
            WHERE id = \(userID.rawValue) RETURNING 1
            """) > 0
    }

    /// Ends the user's live (not revoked, not expired) sessions that `revoking` names.
    static func revokeSessions(
        _ connection: StoreConnection,
        userID: UserID,
        revoking: SessionRevocation,
        at now: Timestamp
    ) async throws -> Int {
        let keep: Int64?
        switch revoking {
        case .none: return 0
        case .all: keep = nil
        case .allExcept(let sessionID): keep = sessionID
        }
        return try await connection.count("""
            UPDATE sessions SET revoked_at = \(now.milliseconds)
            WHERE user_id = \(userID.rawValue) AND revoked_at IS NULL
              AND idle_expires_at > \(now.milliseconds) AND absolute_expires_at > \(now.milliseconds)
              AND (\(keep)::bigint IS NULL OR id <> \(keep))
            RETURNING 1
            """)
    }

    // MARK: One-time codes

    struct LiveCode {
        var id: Int64
        var codeHash: [UInt8]
        var attempts: Int
    }

    /// The user's newest code of `purpose` that is neither used, voided nor expired at `now`,
    /// locked for the rest of the transaction.
    static func liveCode(
        _ connection: StoreConnection, userID: UserID, purpose: CodePurpose, at now: Timestamp
    ) async throws -> LiveCode? {
        guard let row = try await connection.row("""
            SELECT id, code_hash, attempts FROM one_time_codes
            WHERE user_id = \(userID.rawValue) AND purpose = \(purpose.rawValue)
              AND used_at IS NULL AND voided_at IS NULL AND expires_at > \(now.milliseconds)
            ORDER BY created_at DESC, id DESC
            LIMIT 1
            FOR UPDATE
            """)
        else { return nil }
        let (id, hash, attempts) = try row.decode((Int64, ByteBuffer, Int32).self)
        return LiveCode(id: id, codeHash: hash.bytes, attempts: Int(attempts))
    }

    static func markCodeUsed(_ connection: StoreConnection, id: Int64, at now: Timestamp) async throws {
        try await connection.run("UPDATE one_time_codes SET used_at = \(now.milliseconds) WHERE id = \(id)")
    }

    static func insertCode(_ code: NewOneTimeCode, _ connection: StoreConnection, into tables: CodeTables = .real) async throws {
        try await connection.run("""
            INSERT INTO \(unescaped: tables.codes) (user_id, purpose, code_hash, created_at, expires_at, new_email)
            VALUES (\(code.userID.rawValue), \(code.purpose.rawValue), \(code.codeHash.bytea),
                    \(code.createdAt.milliseconds), \(code.expiresAt.milliseconds), \(code.newEmail))
            """)
    }

    // MARK: Outbox

    /// Queues `message` (due at its creation time) in the caller's transaction.
    static func enqueue(_ message: NewOutboxMessage, _ connection: StoreConnection, into tables: CodeTables = .real) async throws {
        let headers = try StoredHeaders.encode(message.headers)
        try await connection.run("""
            INSERT INTO \(unescaped: tables.outbox)
                (message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, state, next_attempt_at)
            VALUES (\(message.messageID), \(message.kind.rawValue), \(message.sender), \(message.recipient),
                    \(message.subject), \(message.textBody), \(message.htmlBody), \(headers),
                    \(message.createdAt.milliseconds), \(OutboxState.queued.rawValue), \(message.createdAt.milliseconds))
            """)
    }
}
