import AuthCore
import AuthdTesting
import GRDB
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: the file, connections and query plans")
struct SQLiteStorageTests {
    static let tables = [
        "api_keys", "decoy_one_time_codes", "decoy_outbox", "email_templates", "group_roles", "groups", "one_time_codes", "outbox", "page_rule_groups",
        "page_rules", "roles", "sessions", "settings", "throttles", "user_attributes", "user_roles", "users",
    ]

    /// What `authd migrate-store` relies on to notice a writer beside it: the fence moves
    /// when another connection commits, not for this one's reads.
    @Test func theWriteFenceMovesWhenAnotherProcessCommits() async throws {
        try await withDatabasePath { path async throws in
            let writer = try SQLiteStorage(path: path)
            defer { try? writer.close() }
            let copy = try SQLiteStorage(path: path, schema: .requireCurrent)
            defer { try? copy.close() }
            let before = try await copy.writeFence()
            _ = try await copy.rowCount(of: StoredTable.all[0])
            _ = try await copy.exportRows(of: StoredTable.all[0], columns: ["id"], after: nil, limit: 10)
            #expect(try await copy.writeFence() == before)
            _ = try await writer.insertUser(newUser("ada@example.com"), session: nil)
            #expect(try await copy.writeFence() != before)
        }
    }

    @Test func aSourceAtAnotherSchemaIsRefusedNotMigrated() async throws {
        try await withDatabasePath { path async throws in
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in try db.execute(sql: "CREATE TABLE unrelated (id INTEGER)") }
            try queue.close()
            let refused = #expect(throws: AuthError.self) { _ = try SQLiteStorage(path: path, schema: .requireCurrent) }
            #expect(refused?.code == .failedPrecondition)
            #expect(refused?.message.contains("schema is not this authd's") == true)
            let tables = try await DatabaseQueue(path: path).read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            }
            #expect(tables == ["unrelated"])
        }
    }

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
                let probe = try SQLiteProbe(path: path)
                defer { probe.close() }
                let found = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(1)))
                #expect(found.user == user)
                #expect(try await store.credentials(email: "ada@example.com")?.passwordHash == new.passwordHash)
                #expect(try await probe.outboxMessages(recipient: nil).map(\.message) == [email])
                #expect(try await store.throttle(key: ThrottleKey(.loginAccount, "k"))?.failures == 1)
                // Migrations ran once, however often the file is opened.
                #expect(try await probe.texts("SELECT identifier FROM grdb_migrations") == ["v1", "v2 email change", "v3 forgot-password decoy", "v4 forgot-password decoy tables"])
                try store.close()
            }
        }
    }

    @Test func schemaAndConnectionSettings() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let tables = try await probe.texts("""
                SELECT name FROM sqlite_master
                WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'
                ORDER BY name
                """)
            #expect(tables == Self.tables)
            #expect(try await probe.texts("PRAGMA journal_mode") == ["wal"])
            // The store's own connections: a reader's settings, then the writer's.
            #expect(try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") } == 1)
            let writer = try await store.pool.write { db in
                try ["foreign_keys", "busy_timeout", "synchronous"].map { try Int.fetchOne(db, sql: "PRAGMA \($0)") }
            }
            #expect(writer == [1, 5000, 2])
            #expect(try await probe.texts("PRAGMA foreign_key_check").isEmpty)
            #expect(try await probe.texts("PRAGMA integrity_check") == ["ok"])
        }
    }

    /// The token check must stay flat as users and sessions grow: no statement of it scans.
    @Test(arguments: [Queries.authenticate, Queries.attributes, Queries.roles])
    func tokenCheckUsesIndexedLookupsOnly(sql: String) async throws {
        try await withSQLiteStorage { store, probe async throws in
            let plan = try await probe.queryPlan(sql)
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

    @Test func prefixUpperBound() {
        #expect(UserFilter.upperBound(ofPrefix: "ab") == "ac")
        #expect(UserFilter.upperBound(ofPrefix: "a%") == "a&")
        #expect(UserFilter.upperBound(ofPrefix: "a\u{D7FF}") == "a\u{E000}")
        #expect(UserFilter.upperBound(ofPrefix: "a\u{10FFFF}") == "b")
        #expect(UserFilter.upperBound(ofPrefix: "\u{10FFFF}") == nil)
        #expect(UserFilter.upperBound(ofPrefix: "") == nil)
    }

    @Test func prefixListingUsesTheEmailIndex() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let plan = try await probe.queryPlan("""
                SELECT \(UserRow.columns) FROM users
                WHERE email >= :low AND email < :high AND blocked = :blocked
                  AND EXISTS (SELECT 1 FROM user_roles WHERE user_id = users.id AND role_id = :role)
                ORDER BY email LIMIT :limit
                """)
            #expect(plan.first?.contains("USING INDEX sqlite_autoindex_users_") == true, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") || $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test func apiKeyLookupIsOneIndexedSearch() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let plan = try await probe.queryPlan(Queries.apiKey)
            #expect(plan.count == 1)
            #expect(plan.allSatisfy { $0.hasPrefix("SEARCH api_keys USING INDEX") }, "\(plan)")
        }
    }
}
