import AuthCore
import AuthdTesting
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: API keys, page rules, settings, removal")
struct AdminStorageTests {
    private func key(_ id: String, scope: KeyScope = .admin, at time: Timestamp = t0) -> NewAPIKey {
        NewAPIKey(id: id, name: "key \(id)", scope: scope, secretHash: randomBytes(), createdAt: time)
    }

    @Test func apiKeysAreFoundByHashTouchedListedAndRevoked() async throws {
        try await withSQLiteStorage { store, probe async throws in
            #expect(try await store.apiKeyCount() == 0)
            #expect(try await store.apiKeys().isEmpty)
            let admin = key("k1", scope: .admin, at: t0)
            let mailer = key("k2", scope: .mailer, at: t0 + .seconds(1))
            let service = key("k0", scope: .service, at: t0 + .seconds(2))
            for key in [admin, mailer, service] {
                try await store.insertAPIKey(key)
            }
            #expect(try await store.apiKeyCount() == 3)

            let found = try #require(try await store.apiKey(secretHash: mailer.secretHash))
            #expect(found == APIKey(id: "k2", name: "key k2", scope: .mailer, createdAt: t0 + .seconds(1)))
            #expect(try await store.apiKey(secretHash: randomBytes()) == nil)

            try await store.touchAPIKey(id: "k2", at: t0 + .seconds(60))
            try await store.touchAPIKey(id: "k2", at: t0 + .seconds(30))  // never backwards
            try await store.touchAPIKey(id: "nope", at: t0 + .seconds(60))
            #expect(try await store.apiKey(secretHash: mailer.secretHash)?.lastUsedAt == t0 + .seconds(60))

            // Oldest first.
            #expect(try await store.apiKeys().map(\.id) == ["k1", "k2", "k0"])
            #expect(try await store.apiKeys().map(\.scope) == [.admin, .mailer, .service])

            // k1 is the only admin key: revoking it would lock every operator out.
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(70)) == .lastAdminKey)
            try await store.insertAPIKey(NewAPIKey(id: "k3", name: "second admin", scope: .admin, secretHash: randomBytes(), createdAt: t0))
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(70)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(80)) == .notFound)
            #expect(try await store.revokeAPIKey(id: "nope", at: t0 + .seconds(80)) == .notFound)
            #expect(try await store.revokeAPIKey(id: "k3", at: t0 + .seconds(80)) == .lastAdminKey)
            // A revoked key is still found (the caller refuses it), and still counted.
            let revoked = try #require(try await store.apiKey(secretHash: admin.secretHash))
            #expect(revoked.revokedAt == t0 + .seconds(70))
            try await store.touchAPIKey(id: "k1", at: t0 + .seconds(90))
            #expect(try await store.apiKey(secretHash: admin.secretHash)?.lastUsedAt == nil)
            #expect(try await store.apiKeyCount() == 4)

            let duplicate = await #expect(throws: AuthError.self) { try await store.insertAPIKey(key("k1")) }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.field == "id")
        }
    }

    @Test func apiKeyLookupIsOneIndexedSearch() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let plan = try await probe.queryPlan(Queries.apiKey)
            #expect(plan.count == 1)
            #expect(plan.allSatisfy { $0.hasPrefix("SEARCH api_keys USING INDEX") }, "\(plan)")
        }
    }

    @Test func pageRulesAreUpsertedListedAndDeleted() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func settingsAreUpsertedByKey() async throws {
        try await withSQLiteStorage { store, probe async throws in
            #expect(try await store.settings() == [:])
            let first = try await store.updateSettings([.signInRedirect: "/login", .forbiddenRedirect: "/403"])
            #expect(first == [.signInRedirect: "/login", .forbiddenRedirect: "/403"])
            let second = try await store.updateSettings([.signInRedirect: "/sign-in"])
            #expect(second == [.signInRedirect: "/sign-in", .forbiddenRedirect: "/403"])
            #expect(try await store.settings() == second)
            #expect(try await store.updateSettings([:]) == second)
        }
    }

    @Test func removeEverythingCountsAndKeepsKeysSettingsAndOutbox() async throws {
        try await withSQLiteStorage { store, probe async throws in
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
            try await store.insertAPIKey(key("k1"))
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
}
