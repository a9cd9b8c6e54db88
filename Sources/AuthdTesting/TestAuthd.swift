public import AuthClient
public import AuthCore
public import AuthCrypto
public import AuthRPC
public import AuthServer
internal import AuthStore
internal import AuthPostgres
public import Foundation
import AuthManagement
internal import Logging
internal import Synchronization

/// Runs `body` with a real authd on a free loopback port, over a database file in a fresh
/// directory (or, with `AUTHD_TEST_STORE=postgres`, a fresh database on the test
/// PostgreSQL server: `TestStore`), with a clock the test moves and cheap scrypt parameters. The server is shut
/// down and the directory removed when `body` returns or throws (a failed `#require`
/// included). Inside, `authd.restart()` starts a new server on the same file.
public func withTestAuthd(
    clock: ManualWallClock = ManualWallClock(),
    scrypt: ScryptParameters = .testing,
    identity: IdentityConfiguration = .defaults,
    // Wide, so that flow tests see the throttles and code limits, not the queue's bounds
    // (its own tests set them).
    hashQueue: HashQueueLimits = HashQueueLimits(maximumWaiting: 4096, maximumPerSource: 4096),
    requireServiceKey: Bool = false,
    // The management port (and with it metrics), on a free loopback port.
    management: Bool = false,
    shutdownGracePeriod: Duration = .seconds(10),
    // TLS on the RPC port, and what `client`, `adminClient` and `client(key:)` connect with.
    tls: ServerTLSConfiguration? = nil,
    clientTLS: ClientTLSConfiguration? = nil,
    registeringMore: @escaping @Sendable (inout Router) -> Void = { _ in },
    _ body: (TestAuthd) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory("authd-test")
    defer { try? FileManager.default.removeItem(at: directory) }
    func run(postgresURL: String?) async throws {
        let options = TestAuthd.Options(
            clock: clock, scrypt: scrypt, identity: identity, hashQueue: hashQueue,
            requireServiceKey: requireServiceKey, management: management, shutdownGracePeriod: shutdownGracePeriod,
            tls: tls, clientTLS: clientTLS, postgresURL: postgresURL, registeringMore: registeringMore)
        let authd = try await TestAuthd(directory: directory, options: options)
        do {
            try await body(authd)
        } catch {
            try? await authd.stop()
            throw error
        }
        try await authd.stop()
    }
    switch TestStore.current {
    case .sqlite: try await run(postgresURL: nil)
    case .postgres: try await TestPostgres.withDatabase { url in try await run(postgresURL: url) }
    }
}

/// Runs `body` with two servers on one new PostgreSQL database, each with its own port,
/// session cache, directory snapshot and connection pool, as two authd instances behind a
/// load balancer are; they share the admin key (the first start writes it). Needs the test
/// PostgreSQL server (`TestPostgres.serverURL`).
public func withTwoTestAuthds(
    clock: ManualWallClock = ManualWallClock(),
    _ body: (TestAuthd, TestAuthd) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory("authd-test-pair")
    defer { try? FileManager.default.removeItem(at: directory) }
    try await TestPostgres.withDatabase { url in
        let options = TestAuthd.Options(
            clock: clock, scrypt: .testing, identity: .defaults,
            hashQueue: HashQueueLimits(maximumWaiting: 4096, maximumPerSource: 4096),
            requireServiceKey: false, management: false, shutdownGracePeriod: .seconds(10),
            tls: nil, clientTLS: nil, postgresURL: url, registeringMore: { _ in })
        let first = try await TestAuthd(directory: directory, options: options)
        let second: TestAuthd
        do {
            second = try await TestAuthd(directory: directory, options: options)
        } catch {
            try? await first.stop()
            throw error
        }
        do {
            try await body(first, second)
        } catch {
            try? await first.stop()
            try? await second.stop()
            throw error
        }
        try await first.stop()
        try await second.stop()
    }
}

/// Which store `withTestAuthd` serves from: `AUTHD_TEST_STORE=postgres` (with
/// `AUTHD_TEST_POSTGRES_URL`) runs the flow suites on PostgreSQL (`make test-postgres`);
/// otherwise SQLite.
public enum TestStore: Sendable {
    case sqlite
    case postgres

    public static let current: TestStore = ProcessInfo.processInfo.environment["AUTHD_TEST_STORE"] == "postgres" ? .postgres : .sqlite
}

/// A running authd (see `withTestAuthd`) and clients of it.
public final class TestAuthd: Sendable {
    /// How a server is started; `restart` changes only what it is given.
    struct Options: Sendable {
        var clock: ManualWallClock
        var scrypt: ScryptParameters
        var identity: IdentityConfiguration
        var hashQueue: HashQueueLimits
        var requireServiceKey: Bool
        var management: Bool
        var shutdownGracePeriod: Duration
        var tls: ServerTLSConfiguration?
        var clientTLS: ClientTLSConfiguration?
        /// nil: the SQLite file in `directory`.
        var postgresURL: String?
        var registeringMore: @Sendable (inout Router) -> Void
    }

    /// One server's life: what `restart` replaces.
    private struct Running: Sendable {
        var server: AuthdServer
        var task: Task<Void, any Error>
        var client: AuthdClient
        var adminKey: String
        var adminClient: AuthdClient
        var stopped = false
    }

    public let directory: URL
    public let clock: ManualWallClock
    private let options: Mutex<Options>
    private let running: Mutex<Running>

    public var databasePath: String { directory.appendingPathComponent("authd.sqlite").path }
    public var server: AuthdServer { running.withLock { $0.server } }
    /// A client without a key.
    public var client: AuthdClient { running.withLock { $0.client } }
    /// A client that sends `adminKey` with every call.
    public var adminClient: AuthdClient { running.withLock { $0.adminClient } }
    /// The first admin key, as a first start on an empty database writes it.
    public var adminKey: String { running.withLock { $0.adminKey } }

    init(directory: URL, options: Options) async throws {
        self.directory = directory
        self.clock = options.clock
        self.options = Mutex(options)
        self.running = Mutex(try await Self.start(directory: directory, options: options))
    }

    private static func start(directory: URL, options: Options) async throws -> Running {
        var logger = Logger(label: "test.authd")
        logger.logLevel = .critical
        let server = try await AuthdServer(
            configuration: .init(
                rpc: .init(port: 0, shutdownGracePeriod: options.shutdownGracePeriod, tls: options.tls),
                databasePath: directory.appendingPathComponent("authd.sqlite").path,
                postgresURL: options.postgresURL,
                // Many test servers share the test PostgreSQL's 300 connections.
                postgresConnections: 4,
                scrypt: options.scrypt,
                hashingThreads: 1,
                hashQueue: options.hashQueue,
                identity: options.identity,
                clock: options.clock,
                requireServiceKey: options.requireServiceKey,
                // A readiness probe of the database gets 10 s, not 2: on PostgreSQL under the
                // whole suite (every test creating and dropping a database, each a checkpoint)
                // a read and a write transaction took longer in 2 of 3 `make test-postgres` runs.
                management: ManagementConfiguration(
                    enabled: options.management, host: "127.0.0.1", port: 0, readinessTimeout: .seconds(10))
            ),
            logger: logger,
            registeringMore: options.registeringMore
        )
        // A first start writes the key file; a restart finds it there.
        _ = try await server.createFirstAdminKeyIfNeeded()
        let adminKey = try String(
            contentsOfFile: directory.appendingPathComponent("authd.sqlite.admin-key").path, encoding: .utf8
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        try await server.start()
        let task = Task { try await server.run() }
        let port = server.localPort!
        return Running(
            server: server,
            task: task,
            client: AuthdClient(host: "127.0.0.1", port: port, configuration: .init(tls: options.clientTLS)),
            adminKey: adminKey,
            adminClient: AuthdClient(
                host: "127.0.0.1", port: port,
                configuration: .init(metadata: ["authorization": "Bearer \(adminKey)"], tls: options.clientTLS))
        )
    }

    private static func stop(_ running: Running) async throws {
        await running.client.close()
        await running.adminClient.close()
        await running.server.beginGracefulShutdown()
        try await running.task.value
    }

    /// Stops the server, keeping the database. Stopping twice is harmless.
    public func stop() async throws {
        let toStop: Running? = running.withLock { running in
            guard !running.stopped else { return nil }
            running.stopped = true
            return running
        }
        if let toStop { try await Self.stop(toStop) }
    }

    /// Stops the server if it runs and starts a new one on the same database and clock,
    /// with other scrypt parameters when given. `client` and `adminClient` then talk to it.
    public func restart(scrypt: ScryptParameters? = nil) async throws {
        try await stop()
        let options = self.options.withLock { options in
            if let scrypt { options.scrypt = scrypt }
            return options
        }
        let started = try await Self.start(directory: directory, options: options)
        running.withLock { $0 = started }
    }

    /// GET `path` on the management port: the status code and the body.
    public func managementGet(_ path: String) async throws -> (status: Int, body: String) {
        guard let port = await server.managementPort() else { throw TestHTTPError("the management port is off") }
        return try await httpGet(host: "127.0.0.1", port: port, path: path)
    }

    /// The value of one series on `/metrics` (`name{labels}` exactly as written there), 0 when absent.
    public func metric(_ series: String) async throws -> Double {
        let (status, body) = try await managementGet("/metrics")
        guard status == 200 else { throw TestHTTPError("/metrics answered \(status)") }
        for line in body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? .nan
        }
        return 0
    }

    /// A client presenting `key`.
    public func client(key: String) -> AuthdClient {
        let tls = options.withLock { $0.clientTLS }
        return AuthdClient(
            host: "127.0.0.1", port: server.localPort!,
            configuration: .init(metadata: ["authorization": "Bearer \(key)"], tls: tls))
    }

    /// A client of its own with `configuration` (another CA, a client certificate, none).
    public func client(configuration: ClientConfiguration) -> AuthdClient {
        AuthdClient(host: "127.0.0.1", port: server.localPort!, configuration: configuration)
    }

    /// A second look at the same database, as another process would have.
    public func openStorage() async throws -> any Storage {
        if let url = options.withLock({ $0.postgresURL }) {
            return try await PostgresStorage(url: url, maximumConnections: 2)
        }
        return try SQLiteStorage(path: databasePath)
    }

    /// Runs `body` with a probe of the database (`StorageProbe`: SQL both stores understand).
    public func withProbe<T>(_ body: (any StorageProbe) async throws -> T) async throws -> T {
        if let url = options.withLock({ $0.postgresURL }) {
            let probe = PostgresProbe(url: url)
            defer { probe.close() }
            return try await body(probe)
        }
        let probe = try SQLiteProbe(path: databasePath)
        defer { probe.close() }
        return try await body(probe)
    }

    /// Runs SQL that no RPC offers (deleting a user behind the server's back).
    public func execute(_ sql: String, arguments: [String] = []) async throws {
        try await withProbe { try await $0.execute(sql, arguments: arguments) }
    }

    /// Every outbox row, or those to `recipient`, by id.
    public func outboxMessages(recipient: String?) async throws -> [OutboxRecord] {
        try await withProbe { try await $0.outboxMessages(recipient: recipient) }
    }

    /// `SELECT count(*) FROM table`.
    public func count(_ table: String) async throws -> Int {
        Int(try await withProbe { try await $0.integer("SELECT count(*) FROM \(table)") } ?? 0)
    }

    /// The first column of every row of `sql`, as text.
    public func texts(_ sql: String) async throws -> [String] {
        try await withProbe { try await $0.texts(sql) }
    }

    /// The code of the newest password-reset email to `email`.
    public func lastCode(for email: String) async throws -> String? {
        guard let body = try await outboxMessages(recipient: email).last?.message.textBody else { return nil }
        let digits = body.split(whereSeparator: { !$0.isNumber }).first { $0.count == 8 }
        return digits.map { String($0) }
    }
}

extension AuthdClient {
    public func signUp(_ email: String, _ password: String = "correct horse", attributes: [String: String] = [:]) async throws -> AuthV1.SignUpResponse {
        try await auth.signUp(AuthV1.SignUpRequest(email: email, password: password, attributes: attributes))
    }

    /// `address` is the end user's, as a backend would pass it on.
    public func login(_ email: String, _ password: String, from address: String? = nil) async throws -> AuthV1.LoginResponse {
        let options = CallOptions(metadata: address.map { [MetadataKey.clientAddress: $0] } ?? [:])
        return try await auth.login(AuthV1.LoginRequest(email: email, password: password), options: options)
    }

    public func me(_ token: String) async throws -> AuthV1.User {
        try await auth.getMe(AuthV1.GetMeRequest(token: token)).user!
    }
}
