import AuthCore
import AuthdTesting
import Testing
import Foundation

@Suite("UserStore: users as the Admin service sees them")
struct UserStoreAdminTests {
    /// Inserts users with these emails (and roles), returning them by email.
    @discardableResult
    private func insert(_ store: any Storage, _ users: [(String, [String])]) async throws -> [String: User] {
        var inserted: [String: User] = [:]
        for (email, roles) in users {
            inserted[email] = try await store.insertUser(newUser(email, attributes: ["name": email], roles: roles), session: nil)
        }
        return inserted
    }

    @Test(arguments: storeKinds)
    func paginationWalksEveryUserOnceInEmailOrder(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let emails = (0..<25).map { "user\(String(format: "%02d", ($0 * 7) % 25))@example.com" }
            try await insert(store, emails.map { ($0, ["Member"]) })
            var pages: [[User]] = []
            var after: String?
            while true {
                let page = try await store.listUsers(filter: UserFilter(), afterEmail: after, limit: 10)
                if page.isEmpty { break }
                pages.append(page)
                after = page.last?.email
            }
            #expect(pages.map(\.count) == [10, 10, 5])
            let listed = pages.flatMap { $0 }.map(\.email)
            #expect(listed == emails.sorted())
            #expect(Set(listed).count == 25)
            // Stable: the same page again is the same.
            let again = try await store.listUsers(filter: UserFilter(), afterEmail: pages[0].last?.email, limit: 10)
            #expect(again == pages[1])
            // Users come with attributes and roles, like user(id:).
            let first = try #require(pages.first?.first)
            #expect(try await store.user(id: first.id) == first)
            #expect(first.roles == ["Member"])
            #expect(first.attributes == ["name": first.email])
            #expect(try await store.listUsers(filter: UserFilter(), afterEmail: nil, limit: 0).isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func emailPrefixIsARangeWhereWildcardsAreOrdinary(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            try await insert(store, [
                ("a%b@example.com", []), ("a%c@example.com", []), ("axb@example.com", []),
                ("a_b@example.com", []), ("acb@example.com", []), ("a@example.com", []),
                ("b@example.com", []), ("é@example.com", []), ("éa@example.com", []),
            ])
            func list(_ prefix: String, after: String? = nil, limit: Int = 100) async throws -> [String] {
                try await store.listUsers(filter: UserFilter(emailPrefix: prefix), afterEmail: after, limit: limit).map(\.email)
            }
            #expect(try await list("a%") == ["a%b@example.com", "a%c@example.com"])
            #expect(try await list("a_") == ["a_b@example.com"])
            #expect(try await list("a") == [
                "a%b@example.com", "a%c@example.com", "a@example.com", "a_b@example.com", "acb@example.com",
                "axb@example.com",
            ])
            #expect(try await list("é") == ["é@example.com", "éa@example.com"])
            #expect(try await list("z").isEmpty)
            #expect(try await list("").count == 9)
            // Pages within a prefix, starting before it, inside it and after it.
            #expect(try await list("a%", limit: 1) == ["a%b@example.com"])
            #expect(try await list("a%", after: "a%b@example.com") == ["a%c@example.com"])
            #expect(try await list("a%", after: "0") == ["a%b@example.com", "a%c@example.com"])
            #expect(try await list("a%", after: "a%c@example.com").isEmpty)
            #expect(try await list("a%", after: "b").isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func roleGroupAndBlockedFiltersCombine(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let users = try await insert(store, [
                ("admin@example.com", ["Admin"]),
                ("both@example.com", ["Admin", "Premium"]),
                ("all@example.com", ["Admin", "Premium", "Staff"]),
                ("premium@example.com", ["Premium"]),
                ("none@example.com", []),
            ])
            _ = try await store.createRole(name: "Unused", at: t0)
            _ = try await store.createGroup(name: "Admin Premium", roles: ["Admin", "Premium"], at: t0)
            _ = try await store.createGroup(name: "Empty", roles: [], at: t0)
            func list(_ filter: UserFilter) async throws -> [String] {
                try await store.listUsers(filter: filter, afterEmail: nil, limit: 100).map(\.email)
            }
            #expect(try await list(UserFilter(role: "Admin")) == ["admin@example.com", "all@example.com", "both@example.com"])
            #expect(try await list(UserFilter(role: "Unused")).isEmpty)
            // Group membership needs every role of the group.
            #expect(try await list(UserFilter(group: "Admin Premium")) == ["all@example.com", "both@example.com"])
            #expect(try await list(UserFilter(group: "Empty")).isEmpty)

            let blockedID = try #require(users["both@example.com"]?.id)
            _ = try await store.setBlocked(id: blockedID, blocked: true, at: t0 + .seconds(1))
            #expect(try await list(UserFilter(blocked: true)) == ["both@example.com"])
            #expect(try await list(UserFilter(blocked: false)).count == 4)
            #expect(try await list(UserFilter(group: "Admin Premium", blocked: false)) == ["all@example.com"])
            #expect(try await list(UserFilter(emailPrefix: "a", role: "Admin", group: "Admin Premium")) == ["all@example.com"])
            #expect(try await list(UserFilter(emailPrefix: "b", role: "Premium", blocked: true)) == ["both@example.com"])
            #expect(try await list(UserFilter(emailPrefix: "p", role: "Admin")).isEmpty)
            // Pagination under a filter.
            let page = try await store.listUsers(filter: UserFilter(role: "Admin"), afterEmail: "admin@example.com", limit: 1)
            #expect(page.map(\.email) == ["all@example.com"])

            let unknownRole = await #expect(throws: AuthError.self) {
                _ = try await store.listUsers(filter: UserFilter(role: "Nope"), afterEmail: nil, limit: 10)
            }
            #expect(unknownRole?.code == .notFound)
            #expect(unknownRole?.field == "role")
            #expect(unknownRole?.message.contains("Nope") == true)
            let unknownGroup = await #expect(throws: AuthError.self) {
                _ = try await store.listUsers(filter: UserFilter(group: "Nope"), afterEmail: nil, limit: 10)
            }
            #expect(unknownGroup?.code == .notFound)
            #expect(unknownGroup?.field == "group")
        }
    }

    @Test(arguments: storeKinds)
    func adminUpdateChangesEverythingAndAPasswordEndsSessions(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("old@example.com", attributes: ["name": "Ada", "city": "London"], roles: ["Admin"])
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            _ = try await store.createRole(name: "Premium", at: t0)
            let later = t0 + .seconds(60)

            // Without a password: sessions stay.
            let renamed = try await store.updateUser(
                id: new.id,
                adminChanges: AdminUserChanges(
                    email: "new@example.com", setAttributes: ["lang": "en"], removeAttributes: ["city"],
                    roles: ["Premium", "Admin", "Premium"]),
                at: later)
            #expect(renamed.email == "new@example.com")
            #expect(renamed.attributes == ["name": "Ada", "lang": "en"])
            #expect(renamed.roles == ["Admin", "Premium"])
            #expect(renamed.updatedAt == later)
            #expect(renamed.createdAt == t0)
            #expect(try await store.user(id: new.id) == renamed)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: later) != nil)

            // Roles given as empty: none left. Roles nil: left alone.
            #expect(try await store.updateUser(id: new.id, adminChanges: AdminUserChanges(roles: []), at: later).roles == [])
            _ = try await store.updateUser(id: new.id, adminChanges: AdminUserChanges(roles: ["Admin"]), at: later)
            #expect(try await store.updateUser(id: new.id, adminChanges: AdminUserChanges(), at: later).roles == ["Admin"])

            // A password: stored, and every session ends.
            let other = try await store.insertSession(newSession(for: new.id, at: later))
            let changed = try await store.updateUser(
                id: new.id, adminChanges: AdminUserChanges(passwordHash: "$scrypt$admin-set"), at: later + .seconds(1))
            #expect(changed.updatedAt == later + .seconds(1))
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$admin-set")
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: later + .seconds(1)) == nil)
            #expect(try await store.authenticate(tokenHash: other.tokenHash, at: later + .seconds(1)) == nil)
            #expect(try await probe.integer("SELECT count(*) FROM sessions WHERE revoked_at IS NULL") == 0)

            // A user invited without a password gets one.
            let invited = newUser("invited@example.com", passwordHash: nil)
            _ = try await store.insertUser(invited, session: nil)
            #expect(try await store.updateUser(
                id: invited.id, adminChanges: AdminUserChanges(passwordHash: "$scrypt$x"), at: later).hasPassword)
        }
    }

    @Test(arguments: storeKinds)
    func adminUpdateRefusalsChangeNothing(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.insertUser(newUser("first@example.com"), session: nil)
            let second = newUser("second@example.com", attributes: ["name": "B"], roles: ["Admin"])
            let session = newSession(for: second.id)
            let before = try await store.insertUser(second, session: session)

            let taken = await #expect(throws: AuthError.self) {
                _ = try await store.updateUser(
                    id: second.id,
                    adminChanges: AdminUserChanges(email: "first@example.com", passwordHash: "$scrypt$new"),
                    at: t0 + .seconds(1))
            }
            #expect(taken?.code == .alreadyExists)
            #expect(taken?.field == "email")

            let missing = await #expect(throws: AuthError.self) {
                _ = try await store.updateUser(
                    id: second.id,
                    adminChanges: AdminUserChanges(
                        email: "changed@example.com", setAttributes: ["name": "changed"],
                        passwordHash: "$scrypt$new", roles: ["Admin", "Ghost", "Phantom"]),
                    at: t0 + .seconds(1))
            }
            #expect(missing?.code == .invalidArgument)
            #expect(missing?.field == "roles")
            #expect(missing?.message == "role Ghost does not exist")

            #expect(try await store.user(id: second.id) == before)
            #expect(try await store.credentials(id: second.id)?.passwordHash == second.passwordHash)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(1)) != nil)

            let unknown = await #expect(throws: AuthError.self) {
                _ = try await store.updateUser(id: .generate(), adminChanges: AdminUserChanges(roles: ["Admin"]), at: t0)
            }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test(arguments: storeKinds)
    func blockingEndsSessionsAndUnblockingDoesNotRestoreThem(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            let second = newSession(for: new.id)
            _ = try await store.insertSession(second)
            let bystander = newUser("bob@example.com")
            let bystanderSession = newSession(for: bystander.id)
            _ = try await store.insertUser(bystander, session: bystanderSession)

            let blocked = try await store.setBlocked(id: new.id, blocked: true, at: t0 + .seconds(1))
            #expect(blocked.blocked)
            #expect(blocked.updatedAt == t0 + .seconds(1))
            #expect(try await probe.integer(
                "SELECT count(*) FROM sessions WHERE user_id = '\(new.id)' AND revoked_at IS NOT NULL") == 2)

            let unblocked = try await store.setBlocked(id: new.id, blocked: false, at: t0 + .seconds(2))
            #expect(!unblocked.blocked)
            #expect(unblocked.updatedAt == t0 + .seconds(2))
            #expect(try await store.user(id: new.id) == unblocked)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(2)) == nil)
            #expect(try await store.authenticate(tokenHash: second.tokenHash, at: t0 + .seconds(2)) == nil)
            #expect(try await store.authenticate(tokenHash: bystanderSession.tokenHash, at: t0 + .seconds(2)) != nil)
            // A session after unblocking works again.
            let fresh = newSession(for: new.id, at: t0 + .seconds(3))
            _ = try await store.insertSession(fresh)
            #expect(try await store.authenticate(tokenHash: fresh.tokenHash, at: t0 + .seconds(3)) != nil)

            let error = await #expect(throws: AuthError.self) {
                _ = try await store.setBlocked(id: .generate(), blocked: true, at: t0)
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test(arguments: storeKinds)
    func deleteUserTakesItsRowsAlong(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("gone@example.com", attributes: ["name": "Gone"], roles: ["Admin"])
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            try await store.issueCode(resetCode(for: new.id, hash: randomBytes()), email: resetEmail(to: new.email))
            #expect(try await store.deleteUser(id: new.id))
            #expect(try await store.user(id: new.id) == nil)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) == nil)
            for table in ["sessions", "user_attributes", "user_roles", "one_time_codes"] {
                #expect(try await probe.integer("SELECT count(*) FROM \(table)") == 0, "\(table)")
            }
            #expect(try await store.roles() == [RoleInfo(name: "Admin", userCount: 0)])
            #expect(try await store.deleteUser(id: new.id) == false)
        }
    }

}
