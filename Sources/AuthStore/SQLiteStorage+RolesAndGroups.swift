public import AuthCore
internal import GRDB

extension SQLiteStorage {
    // MARK: Roles

    /// A taken name is `.alreadyExists` (field "name").
    public func createRole(name: String, at now: Timestamp) async throws(AuthError) -> RoleInfo {
        try await write("create role") { db in
            guard try Rows.roleID(db, name: name) == nil else {
                throw AuthError(.alreadyExists, "role \(name) already exists", field: "name")
            }
            try db.cachedStatement(sql: "INSERT INTO roles (name, created_at) VALUES (?, ?)")
                .execute(arguments: [name, now])
            return RoleInfo(name: name, userCount: 0)
        }
    }

    /// An unknown role is `.notFound`; a taken new name `.alreadyExists` (field "new_name").
    public func renameRole(name: String, to newName: String) async throws(AuthError) -> RoleInfo {
        try await write("rename role") { db in
            guard let id = try Rows.roleID(db, name: name) else { throw Rows.roleNotFound(name) }
            if newName != name {
                guard try Rows.roleID(db, name: newName) == nil else {
                    throw AuthError(.alreadyExists, "role \(newName) already exists", field: "new_name")
                }
                try db.cachedStatement(sql: "UPDATE roles SET name = ? WHERE id = ?").execute(arguments: [newName, id])
            }
            return RoleInfo(name: newName, userCount: try Self.userCount(db, roleID: id))
        }
    }

    public func deleteRole(name: String) async throws(AuthError) {
        try await write("delete role") { db in
            guard let id = try Rows.roleID(db, name: name) else { throw Rows.roleNotFound(name) }
            let groups = try String.fetchAll(db.cachedStatement(sql: """
                SELECT "groups".name FROM group_roles JOIN "groups" ON "groups".id = group_roles.group_id
                WHERE group_roles.role_id = ? ORDER BY "groups".name
                """), arguments: [id])
            guard groups.isEmpty else {
                let used = groups.count == 1 ? "group \(groups[0])" : "groups \(groups.joined(separator: ", "))"
                throw AuthError(
                    .failedPrecondition,
                    "role \(name) is used by \(used); take it out of \(groups.count == 1 ? "it" : "them") first",
                    field: "name")
            }
            try db.cachedStatement(sql: "DELETE FROM roles WHERE id = ?").execute(arguments: [id])
        }
    }

    public func roles() async throws(AuthError) -> [RoleInfo] {
        try await read("read roles") { db in
            try RoleInfo.fetchAll(db.cachedStatement(sql: """
                SELECT name, (SELECT count(*) FROM user_roles WHERE role_id = roles.id) AS user_count FROM roles ORDER BY name
                """))
        }
    }

    /// Each missing name once, at its first place in `names`.
    public func missingRoles(_ names: [String]) async throws(AuthError) -> [String] {
        try await read("check roles") { db in
            var seen: Set<String> = []
            var missing: [String] = []
            for name in names where seen.insert(name).inserted {
                if try Rows.roleID(db, name: name) == nil {
                    missing.append(name)
                }
            }
            return missing
        }
    }

    private static func userCount(_ db: Database, roleID: Int64) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM user_roles WHERE role_id = ?"),
                         arguments: [roleID]) ?? 0
    }

    // MARK: Groups

    /// A taken name is `.alreadyExists` (field "name"); duplicate roles count once.
    public func createGroup(name: String, roles: [String], at now: Timestamp) async throws(AuthError) -> Group {
        try await write("create group") { db in
            guard try Rows.groupID(db, name: name) == nil else {
                throw AuthError(.alreadyExists, "group \(name) already exists", field: "name")
            }
            let roleIDs = try Rows.existingRoles(db, roles)
            try db.cachedStatement(sql: #"INSERT INTO "groups" (name, created_at) VALUES (?, ?)"#)
                .execute(arguments: [name, now])
            try Rows.replaceGroupRoles(db, groupID: db.lastInsertedRowID, roleIDs: roleIDs.values)
            return Group(name: name, roles: roleIDs.keys.sorted())
        }
    }

    /// An unknown group is `.notFound`; a taken new name `.alreadyExists` (field "new_name").
    public func renameGroup(name: String, to newName: String) async throws(AuthError) -> Group {
        try await write("rename group") { db in
            guard let id = try Rows.groupID(db, name: name) else { throw Rows.groupNotFound(name) }
            if newName != name {
                guard try Rows.groupID(db, name: newName) == nil else {
                    throw AuthError(.alreadyExists, "group \(newName) already exists", field: "new_name")
                }
                try db.cachedStatement(sql: #"UPDATE "groups" SET name = ? WHERE id = ?"#)
                    .execute(arguments: [newName, id])
            }
            return Group(name: newName, roles: try Rows.groupRoles(db, groupID: id))
        }
    }

    /// Its roles and its places in page rules go by cascade. Unknown is `.notFound`.
    public func deleteGroup(name: String) async throws(AuthError) {
        try await write("delete group") { db in
            try db.cachedStatement(sql: #"DELETE FROM "groups" WHERE name = ?"#).execute(arguments: [name])
            guard db.changesCount > 0 else { throw Rows.groupNotFound(name) }
        }
    }

    public func groups() async throws(AuthError) -> [Group] {
        try await read("read groups") { db in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT "groups".name AS group_name, roles.name AS role_name FROM "groups"
                LEFT JOIN group_roles ON group_roles.group_id = "groups".id
                LEFT JOIN roles ON roles.id = group_roles.role_id
                ORDER BY "groups".name
                """))
            var groups: [Group] = []
            while let row = try rows.next() {
                let name: String = try row.decode(forColumn: "group_name")
                if groups.last?.name != name {
                    groups.append(Group(name: name, roles: []))
                }
                if let role: String = try row.decode(forColumn: "role_name") {
                    groups[groups.count - 1].roles.append(role)
                }
            }
            for index in groups.indices {
                groups[index].roles.sort()
            }
            return groups
        }
    }

    /// The group's roles become exactly `roles` (each must exist; duplicates count once).
    public func setGroupRoles(name: String, roles: [String]) async throws(AuthError) -> Group {
        try await write("set group roles") { db in
            guard let id = try Rows.groupID(db, name: name) else { throw Rows.groupNotFound(name) }
            let roleIDs = try Rows.existingRoles(db, roles)
            try Rows.replaceGroupRoles(db, groupID: id, roleIDs: roleIDs.values)
            return Group(name: name, roles: roleIDs.keys.sorted())
        }
    }
}
