internal import AuthCore
internal import GRDB

/// Reading domain values out of rows. Every statement is a cached prepared statement.
enum Rows {
    static let userColumns = "id, email, password_hash, blocked, created_at, updated_at"

    /// A user with its secret, selected by `condition` on the users table (an indexed column).
    static func credentials(_ db: Database, where condition: String, _ value: String) throws -> UserCredentials? {
        let statement = try db.cachedStatement(sql: "SELECT \(userColumns) FROM users WHERE \(condition) = ?")
        guard let row = try Row.fetchOne(statement, arguments: [value]) else { return nil }
        return UserCredentials(user: try user(db, row: row), passwordHash: row[2])
    }

    /// The user of a row of `userColumns`, with its attributes and roles.
    static func user(_ db: Database, row: Row) throws -> User {
        let id: String = row[0]
        let passwordHash: String? = row[2]
        return User(
            id: UserID(rawValue: id),
            email: row[1],
            attributes: try attributes(db, userID: id),
            roles: try roles(db, userID: id),
            blocked: row[3],
            hasPassword: passwordHash != nil,
            createdAt: Timestamp(milliseconds: row[4]),
            updatedAt: Timestamp(milliseconds: row[5])
        )
    }

    static func user(_ db: Database, id: UserID) throws -> User? {
        try credentials(db, where: "id", id.rawValue)?.user
    }

    static func attributes(_ db: Database, userID: String) throws -> [String: String] {
        let statement = try db.cachedStatement(sql: Queries.attributes)
        var attributes: [String: String] = [:]
        let rows = try Row.fetchCursor(statement, arguments: [userID])
        while let row = try rows.next() {
            attributes[row[0]] = row[1] as String
        }
        return attributes
    }

    /// Sorted by name.
    static func roles(_ db: Database, userID: String) throws -> [String] {
        let statement = try db.cachedStatement(sql: Queries.roles)
        return try String.fetchAll(statement, arguments: [userID]).sorted()
    }

    static func userExists(_ db: Database, id: UserID) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?")
        return try Bool.fetchOne(statement, arguments: [id.rawValue]) != nil
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
            try db.cachedStatement(sql: live).execute(arguments: ["now": now.milliseconds, "user": userID.rawValue])
        case .allExcept(let sessionID):
            try db.cachedStatement(sql: live + " AND id <> :keep").execute(
                arguments: ["now": now.milliseconds, "user": userID.rawValue, "keep": sessionID])
        }
        return db.changesCount
    }
}
