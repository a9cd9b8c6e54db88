import AuthCore
@testable import AuthPostgres
import AuthdTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// What only the PostgreSQL store has: a server that can be away. At start that is an
/// error naming the cause; later, calls answer UNAVAILABLE without waiting with the pool,
/// and the store serves again by itself once the database is back.
@Suite("PostgresStorage: the database away")
struct PostgresStorageTests {
    /// The test server's URL, when this run has one (otherwise these tests do not exist).
    static let servers: [String] = TestPostgres.serverURL.map { [$0] } ?? []

    @Test(arguments: servers)
    func aStartWithoutTheDatabaseFailsWithItsCause(_ server: String) async throws {
        let closedPort = await #expect(throws: AuthError.self) {
            _ = try await PostgresStorage(url: "postgres://authd:secret@127.0.0.1:1/authd")
        }
        #expect(closedPort?.code == .unavailable)
        #expect(closedPort?.message.contains("cannot use the database at postgres://authd@127.0.0.1:1/authd") == true)
        #expect(closedPort?.message.contains("secret") == false)

        let missing = await #expect(throws: AuthError.self) {
            _ = try await PostgresStorage(url: TestPostgres.databaseURL(server, name: "no_such_database"))
        }
        #expect(missing?.code == .unavailable)
        #expect(missing?.message.contains("\"no_such_database\" does not exist") == true)
    }

    @Test(.timeLimit(.minutes(1)), arguments: servers)
    func callsAnswerUnavailableWhileTheDatabaseRefusesConnectionsThenServeAgain(_ server: String) async throws {
        try await TestPostgres.withDatabase { url in
            let name = TestPostgres.databaseName(url)
            let store = try await PostgresStorage(url: url, maximumConnections: 2, connectionWait: .seconds(2))
            defer { store.close() }
            _ = try await store.apiKeyCount()
            // The database refuses new connections and drops the open ones.
            try await TestPostgres.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS false", on: server)
            try await TestPostgres.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'", on: server)
            for _ in 0..<3 {
                let refused = await #expect(throws: AuthError.self) { _ = try await store.apiKeyCount() }
                #expect(refused?.code == .unavailable)
                #expect(refused?.message.contains("the database is unavailable") == true)
            }
            await #expect(throws: AuthError.self) { try await store.probe() }
            // Back: the pool reconnects by itself (its back-off is short after a few tries).
            try await TestPostgres.execute("ALTER DATABASE \(name) ALLOW_CONNECTIONS true", on: server)
            var served = false
            for _ in 0..<100 where !served {
                served = (try? await store.apiKeyCount()) == 0
                if !served { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(served)
            try await store.probe()
        }
    }

    @Test(arguments: servers)
    func aWriteToAReadOnlyDatabaseIsUnavailable(_ server: String) async throws {
        try await TestPostgres.withDatabase { url in
            let name = TestPostgres.databaseName(url)
            let store = try await PostgresStorage(url: url, maximumConnections: 2)
            defer { store.close() }
            // A read-only database: its writes fail as a standby's READ COMMITTED ones do
            // (a SERIALIZABLE one's BEGIN fails there with 0A000, mapped alike).
            try await TestPostgres.execute("ALTER DATABASE \(name) SET default_transaction_read_only = on", on: server)
            try await TestPostgres.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()",
                on: server)
            var refused: AuthError?
            for _ in 0..<50 where refused == nil {
                do throws(AuthError) {
                    try await store.insertAPIKey(NewAPIKey(id: "k", name: "k", scope: .admin, secretHash: [1, 2, 3], createdAt: Timestamp(milliseconds: 0)))
                    Issue.record("a write to a read-only database succeeded")
                    return
                } catch where error.message.contains("read-only") {
                    refused = error
                } catch {
                    // A connection the terminate dropped: the next try gets a new one.
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(refused?.code == .unavailable)
        }
    }

    /// postgres-nio loses a statement written to a connection that has closed (its answer
    /// never comes); the pool can lease such a connection in the moment after the server
    /// ended it. The call fails UNAVAILABLE instead of waiting for ever.
    @Test(.timeLimit(.minutes(1)), arguments: servers)
    func aStatementOnAClosedConnectionFailsInsteadOfHanging(_ server: String) async throws {
        let url = try #require(URLComponents(string: server))
        let configuration = PostgresConnection.Configuration(
            host: try #require(url.host), port: url.port ?? 5432, username: try #require(url.user),
            password: url.password, database: String(url.path.dropFirst()), tls: .disable)
        let logger = Logger(label: "test")
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        try await connection.close()
        let refused = await #expect(throws: AuthError.self) {
            try await PostgresStorage.untilConnectionCloses(connection, "a statement") { connection in
                try await connection.query("SELECT 1", logger: logger)
            }
        }
        #expect(refused?.code == .unavailable)
        #expect(refused?.message == "a statement: the database is unavailable: its connection closed during the call")
    }

    /// What `authd migrate-store` refuses a source for: sessions of other processes.
    @Test(arguments: servers)
    func theWriteFenceCountsOtherProcessesSessions(_ server: String) async throws {
        try await TestPostgres.withDatabase { url in
            let copy = try await PostgresStorage(url: url, schema: .migrate, maximumConnections: 2, applicationName: "authd migrate-store")
            defer { copy.close() }
            #expect(try await copy.writeFence().otherConnections == 0)
            let served = try await PostgresStorage(url: url, maximumConnections: 2)
            _ = try await served.apiKeyCount()
            #expect(try await copy.writeFence().otherConnections == 1)
            served.close()
        }
    }
}
