import AuthCore
import AuthdTesting
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: roles and groups")
struct RoleAndGroupStorageTests {
    @Test func rolesAreCreatedListedWithCountsAndRenamed() async throws {
        try await withSQLiteStorage { store, probe async throws in
            #expect(try await store.createRole(name: "Staff", at: t0) == RoleInfo(name: "Staff", userCount: 0))
            _ = try await store.insertUser(newUser("a@example.com", roles: ["Admin", "Premium"]), session: nil)
            _ = try await store.insertUser(newUser("b@example.com", roles: ["Admin"]), session: nil)
            #expect(try await store.roles() == [
                RoleInfo(name: "Admin", userCount: 2), RoleInfo(name: "Premium", userCount: 1),
                RoleInfo(name: "Staff", userCount: 0),
            ])

            let duplicate = await #expect(throws: AuthError.self) { _ = try await store.createRole(name: "Admin", at: t0) }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.field == "name")

            #expect(try await store.renameRole(name: "Admin", to: "Administrator") == RoleInfo(name: "Administrator", userCount: 2))
            #expect(try await store.renameRole(name: "Staff", to: "Staff") == RoleInfo(name: "Staff", userCount: 0))
            #expect(try await store.credentials(email: "b@example.com")?.user.roles == ["Administrator"])
            let taken = await #expect(throws: AuthError.self) {
                _ = try await store.renameRole(name: "Premium", to: "Administrator")
            }
            #expect(taken?.code == .alreadyExists)
            #expect(taken?.field == "new_name")
            let unknown = await #expect(throws: AuthError.self) { _ = try await store.renameRole(name: "Admin", to: "X") }
            #expect(unknown?.code == .notFound)
            #expect(try await store.roles().map(\.name) == ["Administrator", "Premium", "Staff"])
        }
    }

    @Test func missingRolesInTheOrderGiven() async throws {
        try await withSQLiteStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            #expect(try await store.missingRoles(["Zeta", "Admin", "Beta", "Zeta"]) == ["Zeta", "Beta"])
            #expect(try await store.missingRoles(["Admin"]) == [])
            #expect(try await store.missingRoles([]) == [])
        }
    }

    @Test func deletingARoleTakesItFromUsersUnlessAGroupUsesIt() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let user = newUser("a@example.com", roles: ["Admin", "Premium", "Staff"])
            _ = try await store.insertUser(user, session: nil)
            _ = try await store.createGroup(name: "Admin", roles: ["Admin"], at: t0)
            _ = try await store.createGroup(name: "Admin Premium", roles: ["Admin", "Premium"], at: t0)
            _ = try await store.createGroup(name: "Premium", roles: ["Premium"], at: t0)

            let used = await #expect(throws: AuthError.self) { try await store.deleteRole(name: "Admin") }
            #expect(used?.code == .failedPrecondition)
            #expect(used?.field == "name")
            #expect(used?.message == "role Admin is used by groups Admin, Admin Premium; take it out of them first")
            #expect(try await store.user(id: user.id)?.roles == ["Admin", "Premium", "Staff"])

            try await store.deleteRole(name: "Staff")
            #expect(try await store.user(id: user.id)?.roles == ["Admin", "Premium"])
            #expect(try await store.roles().map(\.name) == ["Admin", "Premium"])

            // Once no group uses it, it goes.
            try await store.deleteGroup(name: "Admin")
            _ = try await store.setGroupRoles(name: "Admin Premium", roles: ["Premium"])
            try await store.deleteRole(name: "Admin")
            #expect(try await store.user(id: user.id)?.roles == ["Premium"])

            let unknown = await #expect(throws: AuthError.self) { try await store.deleteRole(name: "Admin") }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test func singleGroupIsNamedInTheSingular() async throws {
        try await withSQLiteStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            _ = try await store.createGroup(name: "Admins", roles: ["Admin"], at: t0)
            let used = await #expect(throws: AuthError.self) { try await store.deleteRole(name: "Admin") }
            #expect(used?.message == "role Admin is used by group Admins; take it out of it first")
        }
    }

    @Test func groupsAreCreatedRenamedAndGivenRoles() async throws {
        try await withSQLiteStorage { store, probe async throws in
            for role in ["Premium", "Admin", "Staff"] {
                _ = try await store.createRole(name: role, at: t0)
            }
            let created = try await store.createGroup(name: "Admin Premium", roles: ["Premium", "Admin", "Premium"], at: t0)
            #expect(created == Group(name: "Admin Premium", roles: ["Admin", "Premium"]))
            #expect(try await store.createGroup(name: "Empty", roles: [], at: t0) == Group(name: "Empty", roles: []))
            #expect(try await store.groups() == [created, Group(name: "Empty", roles: [])])

            let duplicate = await #expect(throws: AuthError.self) {
                _ = try await store.createGroup(name: "Empty", roles: [], at: t0)
            }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.field == "name")
            let missing = await #expect(throws: AuthError.self) {
                _ = try await store.createGroup(name: "Ghosts", roles: ["Admin", "Ghost"], at: t0)
            }
            #expect(missing?.code == .invalidArgument)
            #expect(missing?.field == "roles")
            #expect(missing?.message == "role Ghost does not exist")
            #expect(try await store.groups().map(\.name) == ["Admin Premium", "Empty"])

            let renamed = try await store.renameGroup(name: "Admin Premium", to: "Paying admins")
            #expect(renamed == Group(name: "Paying admins", roles: ["Admin", "Premium"]))
            let taken = await #expect(throws: AuthError.self) { _ = try await store.renameGroup(name: "Empty", to: "Paying admins") }
            #expect(taken?.code == .alreadyExists)
            #expect(taken?.field == "new_name")
            let unknown = await #expect(throws: AuthError.self) { _ = try await store.renameGroup(name: "Admin Premium", to: "X") }
            #expect(unknown?.code == .notFound)

            let set = try await store.setGroupRoles(name: "Empty", roles: ["Staff", "Admin", "Staff"])
            #expect(set == Group(name: "Empty", roles: ["Admin", "Staff"]))
            #expect(try await store.setGroupRoles(name: "Paying admins", roles: []) == Group(name: "Paying admins", roles: []))
            let badRoles = await #expect(throws: AuthError.self) {
                _ = try await store.setGroupRoles(name: "Empty", roles: ["Nope"])
            }
            #expect(badRoles?.code == .invalidArgument)
            #expect(badRoles?.field == "roles")
            let unknownGroup = await #expect(throws: AuthError.self) {
                _ = try await store.setGroupRoles(name: "Nope", roles: [])
            }
            #expect(unknownGroup?.code == .notFound)
            #expect(try await store.groups() == [set, Group(name: "Paying admins", roles: [])])
        }
    }

    @Test func deletingAGroupTakesItOutOfPageRules() async throws {
        try await withSQLiteStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            _ = try await store.createGroup(name: "Admins", roles: ["Admin"], at: t0)
            _ = try await store.createGroup(name: "Staff", roles: ["Admin"], at: t0)
            _ = try await store.upsertPageRule(PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff", "Admins"]), at: t0)
            try await store.deleteGroup(name: "Admins")
            #expect(try await store.groups().map(\.name) == ["Staff"])
            #expect(try await store.pageRules() == [PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff"])])
            #expect(try await probe.integer("SELECT count(*) FROM group_roles") == 1)
            // The role stays.
            #expect(try await store.roles().map(\.name) == ["Admin"])
            let unknown = await #expect(throws: AuthError.self) { try await store.deleteGroup(name: "Admins") }
            #expect(unknown?.code == .notFound)
        }
    }
}
