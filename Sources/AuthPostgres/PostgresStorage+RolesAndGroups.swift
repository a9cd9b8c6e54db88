public import AuthCore
internal import PostgresNIO

// Every write here is one SERIALIZABLE transaction (`write`), so a check and the change it
// guards (a free name, an unused role, existing roles) are one step for every other authd
// process: a concurrent change that would break the check aborts one of the two, and the
// retry sees the other's result.
extension PostgresStorage {
    // MARK: Roles

    /// A taken name is `.alreadyExists` (field "name").
    public func createRole(name: String, at now: Timestamp) async throws(AuthError) -> RoleInfo {
        try await write("create role") { connection in
            let taken = DirectoryRows.roleTaken(name, field: "name")
            guard try await DirectoryRows.roleID(connection, name: name) == nil else { throw taken }
            try await DirectoryRows.claimingName(DirectoryRows.roleNameKey, taken) {
                try await connection.run("INSERT INTO roles (name, created_at) VALUES (\(name), \(now.milliseconds))")
            }
            return RoleInfo(name: name, userCount: 0)
        }
    }

    /// An unknown role is `.notFound`; a taken new name `.alreadyExists` (field "new_name").
    public func renameRole(name: String, to newName: String) async throws(AuthError) -> RoleInfo {
        try await write("rename role") { connection in
            guard let id = try await DirectoryRows.roleID(connection, name: name) else { throw DirectoryRows.roleNotFound(name) }
            if newName != name {
                let taken = DirectoryRows.roleTaken(newName, field: "new_name")
                guard try await DirectoryRows.roleID(connection, name: newName) == nil else { throw taken }
                try await DirectoryRows.claimingName(DirectoryRows.roleNameKey, taken) {
                    try await connection.run("UPDATE roles SET name = \(newName) WHERE id = \(id)")
                }
            }
            let users = try await connection.value(Int64.self, "SELECT count(*) FROM user_roles WHERE role_id = \(id)") ?? 0
            return RoleInfo(name: newName, userCount: Int(users))
        }
    }

    /// Refused while a group uses the role. A `setGroupRoles` or `createGroup` on another
    /// process that adds the role at the same time either commits first (then this
    /// transaction is aborted by SERIALIZABLE and its retry sees the group) or finds the
    /// role gone (its foreign key check fails to serialize; its retry says the role does
    /// not exist).
    public func deleteRole(name: String) async throws(AuthError) {
        try await write("delete role") { connection in
            guard let id = try await DirectoryRows.roleID(connection, name: name) else { throw DirectoryRows.roleNotFound(name) }
            let groups = try await connection.values(String.self, """
                SELECT "groups".name FROM group_roles JOIN "groups" ON "groups".id = group_roles.group_id
                WHERE group_roles.role_id = \(id) ORDER BY "groups".name
                """)
            guard groups.isEmpty else {
                let used = groups.count == 1 ? "group \(groups[0])" : "groups \(groups.joined(separator: ", "))"
                throw AuthError(
                    .failedPrecondition,
                    "role \(name) is used by \(used); take it out of \(groups.count == 1 ? "it" : "them") first",
                    field: "name")
            }
            try await connection.run("DELETE FROM roles WHERE id = \(id)")
        }
    }

    public func roles() async throws(AuthError) -> [RoleInfo] {
        try await readStatement("read roles") { connection in
            try await connection.rows("""
                SELECT name, (SELECT count(*) FROM user_roles WHERE role_id = roles.id) FROM roles ORDER BY name
                """).map { row in
                let (name, users) = try row.decode((String, Int64).self)
                return RoleInfo(name: name, userCount: Int(users))
            }
        }
    }

    /// Each missing name once, at its first place in `names`.
    public func missingRoles(_ names: [String]) async throws(AuthError) -> [String] {
        var seen: Set<String> = []
        let distinct = names.filter { seen.insert($0).inserted }
        guard !distinct.isEmpty else { return [] }
        return try await readStatement("check roles") { connection in
            try await PostgresRows.missingRoles(connection, distinct)
        }
    }

    // MARK: Groups

    /// A taken name is `.alreadyExists` (field "name"); duplicate roles count once.
    public func createGroup(name: String, roles: [String], at now: Timestamp) async throws(AuthError) -> Group {
        try await write("create group") { connection in
            let taken = DirectoryRows.groupTaken(name, field: "name")
            guard try await DirectoryRows.groupID(connection, name: name) == nil else { throw taken }
            let roleIDs = try await DirectoryRows.existingRoles(connection, roles)
            let id = try await DirectoryRows.claimingName(DirectoryRows.groupNameKey, taken) {
                try await connection.value(Int64.self, """
                    INSERT INTO "groups" (name, created_at) VALUES (\(name), \(now.milliseconds)) RETURNING id
                    """)
            }
            guard let id else { throw AuthError.storage("create group: no id returned") }
            try await DirectoryRows.replaceGroupRoles(connection, groupID: id, roleIDs: Array(roleIDs.values))
            return Group(name: name, roles: roleIDs.keys.sorted())
        }
    }

    /// An unknown group is `.notFound`; a taken new name `.alreadyExists` (field "new_name").
    public func renameGroup(name: String, to newName: String) async throws(AuthError) -> Group {
        try await write("rename group") { connection in
            guard let id = try await DirectoryRows.groupID(connection, name: name) else { throw DirectoryRows.groupNotFound(name) }
            if newName != name {
                let taken = DirectoryRows.groupTaken(newName, field: "new_name")
                guard try await DirectoryRows.groupID(connection, name: newName) == nil else { throw taken }
                try await DirectoryRows.claimingName(DirectoryRows.groupNameKey, taken) {
                    try await connection.run(#"UPDATE "groups" SET name = \#(newName) WHERE id = \#(id)"#)
                }
            }
            let roles = try await connection.values(String.self, """
                SELECT roles.name FROM group_roles JOIN roles ON roles.id = group_roles.role_id
                WHERE group_roles.group_id = \(id)
                """)
            return Group(name: newName, roles: roles.sorted())
        }
    }

    /// Its roles and its places in page rules go by cascade. Unknown is `.notFound`.
    public func deleteGroup(name: String) async throws(AuthError) {
        try await write("delete group") { connection in
            guard try await connection.count(#"DELETE FROM "groups" WHERE name = \#(name) RETURNING 1"#) > 0 else {
                throw DirectoryRows.groupNotFound(name)
            }
        }
    }

    /// By name; each group's roles sorted as Swift sorts them, as the SQLite store does.
    public func groups() async throws(AuthError) -> [Group] {
        try await readStatement("read groups") { connection in
            try await connection.rows("""
                SELECT "groups".name,
                    ARRAY(SELECT roles.name FROM group_roles JOIN roles ON roles.id = group_roles.role_id
                          WHERE group_roles.group_id = "groups".id)
                FROM "groups" ORDER BY "groups".name
                """).map { row in
                let (name, roles) = try row.decode((String, [String]).self)
                return Group(name: name, roles: roles.sorted())
            }
        }
    }

    /// The group's roles become exactly `roles` (each must exist; duplicates count once).
    /// A role deleted at the same time on another process either makes this fail (the
    /// foreign key of `group_roles` no longer finds it, then the retry says it does not
    /// exist) or is refused there because this group now uses it.
    public func setGroupRoles(name: String, roles: [String]) async throws(AuthError) -> Group {
        try await write("set group roles") { connection in
            guard let id = try await DirectoryRows.groupID(connection, name: name) else { throw DirectoryRows.groupNotFound(name) }
            let roleIDs = try await DirectoryRows.existingRoles(connection, roles)
            try await DirectoryRows.replaceGroupRoles(connection, groupID: id, roleIDs: Array(roleIDs.values))
            return Group(name: name, roles: roleIDs.keys.sorted())
        }
    }
}

/// Reads and writes of roles and groups that the directory's methods share (page rules
/// name groups too).
enum DirectoryRows {
    /// The unique constraints PostgreSQL names for `roles.name` and `"groups".name`.
    static let roleNameKey = "roles_name_key"
    static let groupNameKey = "groups_name_key"

    static func roleID(_ connection: StoreConnection, name: String) async throws -> Int64? {
        try await connection.value(Int64.self, "SELECT id FROM roles WHERE name = \(name)")
    }

    static func groupID(_ connection: StoreConnection, name: String) async throws -> Int64? {
        try await connection.value(Int64.self, #"SELECT id FROM "groups" WHERE name = \#(name)"#)
    }

    /// The ids of `names` (duplicates count once), by name; the first name that is not a
    /// role, in the order given, is `.invalidArgument` on `field`.
    static func existingRoles(
        _ connection: StoreConnection, _ names: [String], field: String = "roles"
    ) async throws -> [String: Int64] {
        try await existing(connection, names, table: "roles", what: "role", field: field)
    }

    /// The same for groups.
    static func existingGroups(
        _ connection: StoreConnection, _ names: [String], field: String
    ) async throws -> [String: Int64] {
        try await existing(connection, names, table: #""groups""#, what: "group", field: field)
    }

    /// One statement for the whole list; `table` is a constant of this file, never input.
    private static func existing(
        _ connection: StoreConnection, _ names: [String], table: String, what: String, field: String
    ) async throws -> [String: Int64] {
        guard !names.isEmpty else { return [:] }
        var found: [String: Int64] = [:]
        for row in try await connection.rows("SELECT name, id FROM \(unescaped: table) WHERE name = ANY(\(names))") {
            let (name, id) = try row.decode((String, Int64).self)
            found[name] = id
        }
        for name in names where found[name] == nil {
            throw AuthError.invalidArgument("\(what) \(name) does not exist", field: field)
        }
        return found
    }

    /// Makes the group's roles exactly `roleIDs`.
    static func replaceGroupRoles(_ connection: StoreConnection, groupID: Int64, roleIDs: [Int64]) async throws {
        try await connection.run("DELETE FROM group_roles WHERE group_id = \(groupID)")
        guard !roleIDs.isEmpty else { return }
        try await connection.run("""
            INSERT INTO group_roles (group_id, role_id) SELECT \(groupID), role_id FROM unnest(\(roleIDs)::bigint[]) AS t(role_id)
            """)
    }

    /// Runs a statement that writes a name, turning a unique violation of `constraint` into
    /// `taken`. The check before it makes this rare: a concurrent transaction that took the
    /// name is usually reported as a serialization failure (and the retry sees the name),
    /// but PostgreSQL may report the violation itself, and then the name is taken for good.
    static func claimingName<T>(
        _ constraint: String,
        _ taken: AuthError,
        _ statement: () async throws -> T
    ) async throws -> T {
        do {
            return try await statement()
        } catch let error as PSQLError
            where error.code == .server && error.serverInfo?[.sqlState] == "23505"
            && error.serverInfo?[.constraintName] == constraint {
            throw taken
        }
    }

    static func roleTaken(_ name: String, field: String) -> AuthError {
        AuthError(.alreadyExists, "role \(name) already exists", field: field)
    }

    static func groupTaken(_ name: String, field: String) -> AuthError {
        AuthError(.alreadyExists, "group \(name) already exists", field: field)
    }

    static func roleNotFound(_ name: String) -> AuthError {
        AuthError(.notFound, "role \(name) not found", field: "name")
    }

    static func groupNotFound(_ name: String, field: String = "name") -> AuthError {
        AuthError(.notFound, "group \(name) not found", field: field)
    }
}
