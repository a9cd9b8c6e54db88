internal import AuthCore
internal import Foundation
internal import GRDB

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

/// Reads and writes that several storage roles share. Every statement is a cached prepared
/// statement.
enum Rows {
    /// How a user is found: each case is a lookup on a unique index.
    enum UserLookup {
        case id(UserID)
        case email(String)

        var sql: String {
            switch self {
            case .id: "SELECT \(UserRow.columns) FROM users WHERE id = ?"
            case .email: "SELECT \(UserRow.columns) FROM users WHERE email = ?"
            }
        }

        var arguments: StatementArguments {
            switch self {
            case .id(let id): [id]
            case .email(let email): [email]
            }
        }
    }

    /// A user with its secret.
    /// The same three statements whether the user exists or not, so that the lookup's time
    /// does not tell an unknown email from a known one (ForgotPassword, Login).
    static func credentials(_ db: Database, _ lookup: UserLookup) throws -> UserCredentials? {
        guard let row = try UserRow.fetchOne(db.cachedStatement(sql: lookup.sql), arguments: lookup.arguments) else {
            _ = try attributes(db, userID: UserID(rawValue: ""))
            _ = try roles(db, userID: UserID(rawValue: ""))
            return nil
        }
        return UserCredentials(user: try user(db, row), passwordHash: row.passwordHash)
    }

    static func user(_ db: Database, id: UserID) throws -> User? {
        try credentials(db, .id(id))?.user
    }

    /// The user of `row`, with its attributes and roles.
    static func user(_ db: Database, _ row: UserRow) throws -> User {
        row.user(attributes: try attributes(db, userID: row.id), roles: try roles(db, userID: row.id))
    }

    static func attributes(_ db: Database, userID: UserID) throws -> [String: String] {
        var attributes: [String: String] = [:]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: Queries.attributes), arguments: [userID])
        while let row = try rows.next() {
            attributes[try row.decode(forColumn: "name")] = try row.decode(String.self, forColumn: "value")
        }
        return attributes
    }

    /// Sorted by name.
    static func roles(_ db: Database, userID: UserID) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: Queries.roles), arguments: [userID]).sorted()
    }

    static func userExists(_ db: Database, id: UserID) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?"), arguments: [id]) != nil
    }

    /// Removes the attributes named in `remove`, then sets those of `set` (so a name in both
    /// ends up set): every write of attributes, for new users and changed ones.
    static func changeAttributes(
        _ db: Database,
        userID: UserID,
        set: [String: String],
        remove: some Sequence<String> = [String](),
        maximumCount: Int? = nil
    ) throws {
        let delete = try db.cachedStatement(sql: "DELETE FROM user_attributes WHERE user_id = ? AND name = ?")
        for name in remove {
            try delete.execute(arguments: [userID, name])
        }
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO user_attributes (user_id, name, value) VALUES (?, ?, ?)
            ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value
            """)
        for (name, value) in set {
            try upsert.execute(arguments: [userID, name, value])
        }
        if let maximumCount {
            let count = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM user_attributes WHERE user_id = ?"), arguments: [userID]) ?? 0
            // Thrown inside the transaction: it rolls back, so nothing of the change is written.
            guard count <= maximumCount else {
                throw AuthError.invalidArgument("a user has at most \(maximumCount) attributes, this would make \(count)", field: "attributes")
            }
        }
    }

    /// Voids the user's live codes (neither used, voided nor expired at `now`) of `purpose`,
    /// or of every purpose: after the account's address changes, what went to the old
    /// address must not work.
    static func voidLiveCodes(
        _ db: Database, userID: UserID, purpose: CodePurpose? = nil, at now: Timestamp, in tables: CodeTables = .real
    ) throws {
        try db.cachedStatement(sql: """
            UPDATE \(tables.codes) SET voided_at = :now
            WHERE user_id = :user AND (:purpose IS NULL OR purpose = :purpose)
              AND used_at IS NULL AND voided_at IS NULL AND expires_at > :now
            """).execute(arguments: ["now": now, "user": userID, "purpose": purpose])
    }

    /// Sets the password hash and bumps `updated_at`; false when there is no such user.
    static func setPasswordHash(_ db: Database, userID: UserID, hash: String, at now: Timestamp) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .execute(arguments: [hash, now, userID])
        return db.changesCount > 0
    }

    /// Ends the user's live (not revoked, not expired) sessions that `revoking` names.
    static func revokeSessions(
        _ db: Database,
        userID: UserID,
        revoking: SessionRevocation,
        at now: Timestamp
    ) throws -> Int {
        let live = """
            UPDATE sessions SET revoked_at = :now
            WHERE user_id = :user AND revoked_at IS NULL AND idle_expires_at > :now AND absolute_expires_at > :now
            """
        switch revoking {
        case .none:
            return 0
        case .all:
            try db.cachedStatement(sql: live).execute(arguments: ["now": now, "user": userID])
        case .allExcept(let sessionID):
            try db.cachedStatement(sql: live + " AND id <> :keep").execute(
                arguments: ["now": now, "user": userID, "keep": sessionID])
        }
        return db.changesCount
    }

    // MARK: One-time codes

    /// The user's newest code of `purpose` that is neither used, voided nor expired at `now`.
    static func liveCode(_ db: Database, userID: UserID, purpose: CodePurpose, at now: Timestamp) throws -> LiveCodeRow? {
        try LiveCodeRow.fetchOne(
            db.cachedStatement(sql: """
                SELECT id, code_hash, attempts FROM one_time_codes
                WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                ORDER BY created_at DESC, id DESC
                LIMIT 1
                """),
            arguments: [userID, purpose, now])
    }

    static func markCodeUsed(_ db: Database, id: Int64, at now: Timestamp) throws {
        try db.cachedStatement(sql: "UPDATE one_time_codes SET used_at = ? WHERE id = ?").execute(arguments: [now, id])
    }

    static func insertCode(_ code: NewOneTimeCode, _ db: Database, into tables: CodeTables = .real) throws {
        try db.cachedStatement(sql: """
            INSERT INTO \(tables.codes) (user_id, purpose, code_hash, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [code.userID, code.purpose, Data(code.codeHash), code.createdAt, code.expiresAt])
    }
}
