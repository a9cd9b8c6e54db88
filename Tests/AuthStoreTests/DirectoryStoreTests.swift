import AuthCore
import AuthdTesting
import Testing

@Suite("DirectoryStore: roles, groups, page rules, settings, templates, removal")
struct DirectoryStoreTests {
    @Test(arguments: storeKinds)
    func rolesAreCreatedListedWithCountsAndRenamed(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func missingRolesInTheOrderGiven(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            #expect(try await store.missingRoles(["Zeta", "Admin", "Beta", "Zeta"]) == ["Zeta", "Beta"])
            #expect(try await store.missingRoles(["Admin"]) == [])
            #expect(try await store.missingRoles([]) == [])
        }
    }

    @Test(arguments: storeKinds)
    func deletingARoleTakesItFromUsersUnlessAGroupUsesIt(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func singleGroupIsNamedInTheSingular(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            _ = try await store.createGroup(name: "Admins", roles: ["Admin"], at: t0)
            let used = await #expect(throws: AuthError.self) { try await store.deleteRole(name: "Admin") }
            #expect(used?.message == "role Admin is used by group Admins; take it out of it first")
        }
    }

    @Test(arguments: storeKinds)
    func groupsAreCreatedRenamedAndGivenRoles(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func deletingAGroupTakesItOutOfPageRules(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func pageRulesAreUpsertedListedAndDeleted(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            _ = try await store.createGroup(name: "Staff", roles: ["Admin"], at: t0)
            _ = try await store.createGroup(name: "Admins", roles: ["Admin"], at: t0)

            let admin = try await store.upsertPageRule(
                PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff", "Admins", "Staff"]), at: t0)
            #expect(admin == PageRule(pattern: "/admin/*", access: .groups, groups: ["Admins", "Staff"]))
            _ = try await store.upsertPageRule(PageRule(pattern: "/pricing", access: .public), at: t0)
            _ = try await store.upsertPageRule(PageRule(pattern: "/cars/:id", access: .signedIn), at: t0)
            #expect(try await store.pageRules() == [
                admin, PageRule(pattern: "/cars/:id", access: .signedIn), PageRule(pattern: "/pricing", access: .public),
            ])
            #expect(try await probe.texts("SELECT access FROM page_rules ORDER BY pattern")
                == ["groups", "signed_in", "public"])

            // Replacing: the new access and group list, the old creation time.
            let replaced = try await store.upsertPageRule(
                PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff"]), at: t0 + .seconds(5))
            #expect(replaced.groups == ["Staff"])
            _ = try await store.upsertPageRule(PageRule(pattern: "/pricing", access: .signedIn), at: t0 + .seconds(5))
            #expect(try await store.pageRules() == [
                replaced, PageRule(pattern: "/cars/:id", access: .signedIn), PageRule(pattern: "/pricing", access: .signedIn),
            ])
            #expect(try await probe.integer("SELECT max(created_at) FROM page_rules") == t0.milliseconds)

            let missing = await #expect(throws: AuthError.self) {
                _ = try await store.upsertPageRule(
                    PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff", "Ghosts"]), at: t0)
            }
            #expect(missing?.code == .invalidArgument)
            #expect(missing?.field == "rule.groups")
            #expect(missing?.message.contains("Ghosts") == true)
            #expect(try await store.pageRules().first == replaced)

            #expect(try await store.deletePageRule(pattern: "/admin/*"))
            #expect(try await store.deletePageRule(pattern: "/admin/*") == false)
            #expect(try await probe.integer("SELECT count(*) FROM page_rule_groups") == 0)
            #expect(try await store.pageRules().map(\.pattern) == ["/cars/:id", "/pricing"])
        }
    }

    @Test(arguments: storeKinds)
    func settingsAreUpsertedByKey(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.settings() == [:])
            let first = try await store.updateSettings([.signInRedirect: "/login", .forbiddenRedirect: "/403"])
            #expect(first == [.signInRedirect: "/login", .forbiddenRedirect: "/403"])
            let second = try await store.updateSettings([.signInRedirect: "/sign-in"])
            #expect(second == [.signInRedirect: "/sign-in", .forbiddenRedirect: "/403"])
            #expect(try await store.settings() == second)
            #expect(try await store.updateSettings([:]) == second)
        }
    }

    @Test(arguments: storeKinds)
    func removeEverythingCountsAndKeepsKeysSettingsAndOutbox(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let ada = newUser("ada@example.com", attributes: ["name": "Ada"], roles: ["Admin", "Premium"])
            let session = newSession(for: ada.id)
            _ = try await store.insertUser(ada, session: session)
            _ = try await store.insertUser(newUser("bob@example.com", roles: ["Premium"]), session: nil)
            _ = try await store.insertUser(newUser("eve@example.com"), session: nil)
            try await store.issueCode(resetCode(for: ada.id, hash: randomBytes()), email: resetEmail(to: ada.email))
            _ = try await store.createRole(name: "Staff", at: t0)
            _ = try await store.createGroup(name: "Admin Premium", roles: ["Admin", "Premium"], at: t0)
            _ = try await store.createGroup(name: "Staff", roles: ["Staff"], at: t0)
            _ = try await store.upsertPageRule(PageRule(pattern: "/admin/*", access: .groups, groups: ["Staff"]), at: t0)
            try await store.insertAPIKey(apiKey("k1"))
            _ = try await store.updateSettings([.signInRedirect: "/login"])

            let counts = try await store.removeEverything()
            #expect(counts == RemovalCounts(users: 3, roles: 3, groups: 2, pageRules: 1))
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) == nil)
            for table in [
                "users", "user_attributes", "user_roles", "sessions", "one_time_codes", "roles", "groups",
                "group_roles", "page_rules", "page_rule_groups",
            ] {
                #expect(try await probe.integer("SELECT count(*) FROM \"\(table)\"") == 0, "\(table)")
            }
            #expect(try await store.apiKeyCount() == 1)
            #expect(try await store.settings() == [.signInRedirect: "/login"])
            #expect(try await probe.outboxMessages(recipient: nil).count == 1)

            #expect(try await store.removeEverything() == RemovalCounts(users: 0, roles: 0, groups: 0, pageRules: 0))
        }
    }

    @Test(arguments: storeKinds)
    func emailTemplatesAreStoredReplacedAndReset(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.emailTemplate(kind: .invitation) == nil)
            let first = StoredEmailTemplate(
                kind: .invitation, subject: "Welcome", textBody: "{{link}}", htmlBody: "<a href=\"{{link}}\">in</a>", updatedAt: t0)
            try await store.setEmailTemplate(first)
            #expect(try await store.emailTemplate(kind: .invitation) == first)
            #expect(try await store.emailTemplate(kind: .verificationCode) == nil)

            var second = first
            second.subject = "Welcome again"
            second.updatedAt = t0 + .seconds(5)
            try await store.setEmailTemplate(second)
            #expect(try await store.emailTemplate(kind: .invitation) == second)

            #expect(try await store.deleteEmailTemplate(kind: .invitation))
            #expect(try await store.deleteEmailTemplate(kind: .invitation) == false)
            #expect(try await store.emailTemplate(kind: .invitation) == nil)
        }
    }
}
