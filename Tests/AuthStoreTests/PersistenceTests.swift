import AuthCore
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: the file")
struct PersistenceTests {
    static let tables = [
        "api_keys", "email_templates", "forgot_password_decoy", "group_roles", "groups", "one_time_codes", "outbox", "page_rule_groups",
        "page_rules", "roles", "sessions", "settings", "throttles", "user_attributes", "user_roles", "users",
    ]

    @Test func reopeningKeepsWhatWasWritten() async throws {
        try await withDatabasePath { path async throws in
            let new = newUser("ada@example.com", attributes: ["name": "Ada"], roles: ["Admin"])
            let session = newSession(for: new.id)
            let email = resetEmail(to: new.email)
            let user: User
            do {
                let store = try SQLiteStorage(path: path)
                user = try await store.insertUser(new, session: session)
                try await store.issueCode(resetCode(for: new.id, hash: randomBytes()), email: email)
                _ = try await store.recordFailure(key: ThrottleKey(.loginAccount, "k"), window: .seconds(60), at: t0)
                try store.close()
            }

            for _ in 0..<2 {
                let store = try SQLiteStorage(path: path)
                let found = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(1)))
                #expect(found.user == user)
                #expect(try await store.credentials(email: "ada@example.com")?.passwordHash == new.passwordHash)
                #expect(try await store.outboxMessages(recipient: nil).map(\.message) == [email])
                #expect(try await store.throttle(key: ThrottleKey(.loginAccount, "k"))?.failures == 1)
                // Migrations ran once, however often the file is opened.
                #expect(try await store.textForTesting("SELECT identifier FROM grdb_migrations") == ["v1", "v2 email change", "v3 forgot-password decoy"])
                try store.close()
            }
        }
    }

    @Test func schemaAndConnectionSettings() async throws {
        try await withStore { store async throws in
            let tables = try await store.textForTesting("""
                SELECT name FROM sqlite_master
                WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'
                ORDER BY name
                """)
            #expect(tables == Self.tables)
            #expect(try await store.textForTesting("PRAGMA journal_mode") == ["wal"])
            #expect(try await store.integerForTesting("PRAGMA foreign_keys") == 1)
            #expect(try await store.integerForTesting("PRAGMA foreign_keys", onWriter: true) == 1)
            #expect(try await store.integerForTesting("PRAGMA busy_timeout", onWriter: true) == 5000)
            #expect(try await store.integerForTesting("PRAGMA synchronous", onWriter: true) == 2)
            #expect(try await store.textForTesting("PRAGMA foreign_key_check").isEmpty)
            #expect(try await store.textForTesting("PRAGMA integrity_check") == ["ok"])
        }
    }

    /// The token check must stay flat as users and sessions grow: no statement of it scans.
    @Test(arguments: [Queries.authenticate, Queries.attributes, Queries.roles])
    func tokenCheckUsesIndexedLookupsOnly(sql: String) async throws {
        try await withStore { store async throws in
            let plan = try await store.queryPlanForTesting(sql)
            #expect(!plan.isEmpty)
            #expect(plan.allSatisfy { $0.hasPrefix("SEARCH") }, "\(plan)")
        }
    }

    @Test func closedStoreRefusesWithAStorageError() async throws {
        try await withDatabasePath { path async throws in
            let store = try SQLiteStorage(path: path)
            try store.close()
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.user(id: .generate())
            }
            #expect(error?.code == .internal)
        }
    }

    @Test func unopenablePathIsAStorageError() async throws {
        try await withDatabasePath { path async throws in
            let error = #expect(throws: AuthError.self) {
                _ = try SQLiteStorage(path: path + "-missing/authd.sqlite")
            }
            #expect(error?.code == .internal)
            #expect(error?.message.contains("open") == true)
        }
    }
}
