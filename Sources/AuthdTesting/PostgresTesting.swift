public import AuthCore
internal import AuthPostgres
internal import Foundation
internal import Logging
internal import NIOCore
internal import PostgresNIO

/// The private PostgreSQL server the test setup starts (`tools/postgres-test-server.sh`,
/// run by `make test`), from `AUTHD_TEST_POSTGRES_URL`: a superuser's URL of its
/// maintenance database. Nil when the variable is unset: the PostgreSQL variants of the
/// suites then do not exist (they are not counted as skipped or passed).
public enum TestPostgres {
    public static let serverURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["AUTHD_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }()

    /// Runs `body` with the URL of a new, empty database on the test server, and drops the
    /// database afterwards (also when `body` throws).
    public static func withDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        guard let serverURL else { throw TestPostgresError(description: "AUTHD_TEST_POSTGRES_URL is not set") }
        let name = "authd_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await PostgresAdmin.run(serverURL, "CREATE DATABASE \(name)")
        do {
            let result = try await body(databaseURL(serverURL, name: name))
            try await PostgresAdmin.run(serverURL, "DROP DATABASE \(name) WITH (FORCE)")
            return result
        } catch {
            try? await PostgresAdmin.run(serverURL, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs one statement as the test server's superuser, on the database of `url`.
    public static func execute(_ sql: String, on url: String) async throws {
        try await PostgresAdmin.run(url, sql)
    }

    /// The name of the database `url` names.
    public static func databaseName(_ url: String) -> String {
        String(URLComponents(string: url)?.path.dropFirst() ?? "")
    }

    /// The server URL with its database replaced by `name`.
    public static func databaseURL(_ serverURL: String, name: String) -> String {
        var components = URLComponents(string: serverURL)!
        components.path = "/" + name
        return components.string!
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public var description: String
}

extension StorageFactory {
    /// A `PostgresStorage` over a new database on the test server; nil without one.
    public static let postgres: StorageFactory? = TestPostgres.serverURL == nil ? nil : StorageFactory("PostgreSQL") { body in
        try await TestPostgres.withDatabase { url in
            let store = try await PostgresStorage(url: url, maximumConnections: 8)
            defer { store.close() }
            let probe = PostgresProbe(url: url)
            defer { probe.close() }
            try await body(store, probe)
        }
    }

    /// Every store kind this test run has: SQLite always, PostgreSQL when the test server runs.
    public static let available: [StorageFactory] = [.sqlite] + (postgres.map { [$0] } ?? [])
}

/// One statement at a time on a connection of its own: for creating and dropping test databases.
enum PostgresAdmin {
    static func run(_ url: String, _ sql: String) async throws {
        let configuration = try PostgresProbe.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresProbe.quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql))
        }
    }
}

/// A second connection pool to a store's database, as another process would have (see
/// `StorageProbe`). `?` placeholders in the probe's SQL become `$1`, `$2`, ….
public final class PostgresProbe: StorageProbe {
    private let client: PostgresClient
    private let runTask: Task<Void, Never>

    public init(url: String) {
        // The URL was accepted by PostgresStorage already.
        let client = PostgresClient(
            configuration: (try? Self.configuration(url)) ?? .init(host: "127.0.0.1", username: "invalid", password: nil, database: nil, tls: .disable),
            backgroundLogger: Self.quietLogger)
        self.client = client
        runTask = Task { await client.run() }
    }

    public func close() {
        runTask.cancel()
    }

    /// The pool's background lines (a connection closed at the end of a test) are noise here.
    static let quietLogger: Logger = {
        var logger = Logger(label: "authd.test.postgres")
        logger.logLevel = .critical
        return logger
    }()

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let host = components.host, let user = components.user else {
            throw TestPostgresError(description: "not a postgres URL: \(url)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        configuration.options.maximumConnections = 2
        return configuration
    }

    private static func query(_ sql: String, _ arguments: [String] = []) -> PostgresQuery {
        var numbered = ""
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                numbered += "$\(index)"
            } else {
                numbered.append(character)
            }
        }
        var binds = PostgresBindings()
        for argument in arguments { binds.append(argument) }
        return PostgresQuery(unsafeSQL: numbered, binds: binds)
    }

    public func execute(_ sql: String, arguments: [String]) async throws {
        try await client.query(Self.query(sql, arguments))
    }

    public func integer(_ sql: String) async throws -> Int64? {
        for try await row in try await client.query(Self.query(sql)) {
            return try row.decode(Int64?.self)
        }
        return nil
    }

    public func texts(_ sql: String) async throws -> [String] {
        var texts: [String] = []
        for try await row in try await client.query(Self.query(sql)) {
            texts.append(try row.decode(String.self))
        }
        return texts
    }

    public func outboxMessages(recipient: String?) async throws -> [OutboxRecord] {
        let columns = "id, message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, state, attempts"
        let query: PostgresQuery = if let recipient {
            "SELECT \(unescaped: columns) FROM outbox WHERE recipient = \(recipient) ORDER BY id"
        } else {
            "SELECT \(unescaped: columns) FROM outbox ORDER BY id"
        }
        var records: [OutboxRecord] = []
        for try await row in try await client.query(query) {
            let (id, messageID, kind, sender, to, subject, text, html, headers, createdAt, state, attempts) = try row.decode(
                (Int64, String, String, String, String, String, String, String, String, Int64, String, Int32).self)
            guard let kind = TemplateKind(rawValue: kind), let state = OutboxState(rawValue: state) else {
                throw TestPostgresError(description: "outbox row \(id) has kind \(kind), state \(state)")
            }
            let message = NewOutboxMessage(
                messageID: messageID, kind: kind, sender: sender, recipient: to, subject: subject,
                textBody: text, htmlBody: html, headers: try StoredHeaders.decode(headers, messageID: messageID),
                createdAt: Timestamp(milliseconds: createdAt))
            records.append(OutboxRecord(id: id, message: message, state: state, attempts: Int(attempts)))
        }
        return records
    }
}
