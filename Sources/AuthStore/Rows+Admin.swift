internal import AuthCore
internal import GRDB

/// Lookups by name for the Admin methods; every one is a cached statement on a unique index.
extension Rows {
    static func roleID(_ db: Database, name: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM roles WHERE name = ?"), arguments: [name])
    }

    static func groupID(_ db: Database, name: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: #"SELECT id FROM "groups" WHERE name = ?"#), arguments: [name])
    }

    /// The ids of `names` (duplicates count once), by name; the first name that is not a
    /// role, in the order given, is `.invalidArgument` on `field`.
    static func existingRoles(_ db: Database, _ names: [String], field: String = "roles") throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for name in names where ids[name] == nil {
            guard let id = try roleID(db, name: name) else {
                throw AuthError.invalidArgument("role \(name) does not exist", field: field)
            }
            ids[name] = id
        }
        return ids
    }

    /// The group's roles, sorted by name.
    static func groupRoles(_ db: Database, groupID: Int64) throws -> [String] {
        let statement = try db.cachedStatement(sql: """
            SELECT roles.name FROM group_roles JOIN roles ON roles.id = group_roles.role_id
            WHERE group_roles.group_id = ?
            """)
        return try String.fetchAll(statement, arguments: [groupID]).sorted()
    }

    /// Makes the group's roles exactly `roleIDs`.
    static func replaceGroupRoles(_ db: Database, groupID: Int64, roleIDs: some Sequence<Int64>) throws {
        try db.cachedStatement(sql: "DELETE FROM group_roles WHERE group_id = ?").execute(arguments: [groupID])
        let insert = try db.cachedStatement(sql: "INSERT INTO group_roles (group_id, role_id) VALUES (?, ?)")
        for roleID in roleIDs {
            try insert.execute(arguments: [groupID, roleID])
        }
    }

    /// Makes the user's roles exactly `roleIDs`.
    static func replaceRoles(_ db: Database, userID: UserID, roleIDs: some Sequence<Int64>) throws {
        try db.cachedStatement(sql: "DELETE FROM user_roles WHERE user_id = ?").execute(arguments: [userID])
        try grantRoles(db, userID: userID, roleIDs: roleIDs)
    }

    /// Adds roles to the user; one it holds already stays once.
    static func grantRoles(_ db: Database, userID: UserID, roleIDs: some Sequence<Int64>) throws {
        let grant = try db.cachedStatement(sql: "INSERT OR IGNORE INTO user_roles (user_id, role_id) VALUES (?, ?)")
        for roleID in roleIDs {
            try grant.execute(arguments: [userID, roleID])
        }
    }

    static func roleNotFound(_ name: String) -> AuthError {
        AuthError(.notFound, "role \(name) not found", field: "name")
    }

    static func groupNotFound(_ name: String, field: String = "name") -> AuthError {
        AuthError(.notFound, "group \(name) not found", field: field)
    }
}
