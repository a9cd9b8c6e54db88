import AuthClient
import AuthCore
import AuthCrypto
import AuthServer
import AuthStore
import Foundation
import GRDB
import Logging

/// A real authd on a free loopback port over a real database file in a fresh
/// directory, with a clock the test moves and cheap scrypt parameters.
final class TestAuthd: Sendable {
    let directory: URL
    let clock: ManualWallClock
    let server: AuthdServer
    let task: Task<Void, any Error>
    let client: AuthdClient
    /// The first admin key, as a first start on an empty database writes it.
    let adminKey: String
    /// A client that sends `adminKey` with every call.
    let adminClient: AuthdClient

    var databasePath: String { directory.appendingPathComponent("authd.sqlite").path }

    static func start(
        directory: URL? = nil,
        clock: ManualWallClock = ManualWallClock(),
        scrypt: ScryptParameters = .testing,
        identity: IdentityConfiguration = .defaults,
        requireServiceKey: Bool = false,
        registeringMore: (inout Router) -> Void = { _ in }
    ) async throws -> TestAuthd {
        let directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("authd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "test.authd")
        logger.logLevel = .critical
        let server = try AuthdServer(
            configuration: .init(
                rpc: .init(port: 0),
                databasePath: directory.appendingPathComponent("authd.sqlite").path,
                scrypt: scrypt,
                hashingThreads: 1,
                identity: identity,
                clock: clock,
                requireServiceKey: requireServiceKey
            ),
            logger: logger,
            registeringMore: registeringMore
        )
        let keyFile = directory.appendingPathComponent("authd.sqlite.admin-key").path
        _ = try await server.createFirstAdminKeyIfNeeded()
        let adminKey = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try await server.start()
        let task = Task { try await server.run() }
        let port = server.localPort!
        return TestAuthd(
            directory: directory,
            clock: clock,
            server: server,
            task: task,
            client: AuthdClient(host: "127.0.0.1", port: port),
            adminKey: adminKey,
            adminClient: AuthdClient(host: "127.0.0.1", port: port, configuration: .init(metadata: ["authorization": "Bearer \(adminKey)"]))
        )
    }

    private init(
        directory: URL,
        clock: ManualWallClock,
        server: AuthdServer,
        task: Task<Void, any Error>,
        client: AuthdClient,
        adminKey: String,
        adminClient: AuthdClient
    ) {
        self.directory = directory
        self.clock = clock
        self.server = server
        self.task = task
        self.client = client
        self.adminKey = adminKey
        self.adminClient = adminClient
    }

    /// A client presenting `key`.
    func client(key: String) -> AuthdClient {
        AuthdClient(host: "127.0.0.1", port: server.localPort!, configuration: .init(metadata: ["authorization": "Bearer \(key)"]))
    }

    /// Stops the server, keeping the database.
    func stop() async throws {
        await client.close()
        await adminClient.close()
        await server.beginGracefulShutdown()
        try await task.value
    }

    /// Stops and removes the database.
    func finish() async throws {
        try await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A second look at the same database file, as another process would have.
    func openStorage() throws -> SQLiteStorage {
        try SQLiteStorage(path: databasePath)
    }

    /// Runs SQL that no RPC offers yet (blocking, deleting), straight on the file.
    func execute(_ sql: String, arguments: StatementArguments = []) throws {
        let queue = try DatabaseQueue(path: databasePath)
        try queue.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    /// The code of the newest password-reset email to `email`.
    func lastCode(for email: String) async throws -> String? {
        let messages = try await (try openStorage()).outboxMessages(recipient: email)
        guard let body = messages.last?.message.textBody else { return nil }
        let digits = body.split(whereSeparator: { !$0.isNumber }).first { $0.count == 8 }
        return digits.map { String($0) }
    }
}

extension AuthdClient {
    func signUp(_ email: String, _ password: String = "correct horse", attributes: [String: String] = [:]) async throws -> AuthV1.SignUpResponse {
        try await auth.signUp(AuthV1.SignUpRequest(email: email, password: password, attributes: attributes))
    }

    func login(_ email: String, _ password: String, from address: String? = nil) async throws -> AuthV1.LoginResponse {
        let options = CallOptions(metadata: address.map { [MetadataKey.clientAddress: $0] } ?? [:])
        return try await auth.login(AuthV1.LoginRequest(email: email, password: password), options: options)
    }

    func me(_ token: String) async throws -> AuthV1.User {
        try await auth.getMe(AuthV1.GetMeRequest(token: token)).user!
    }
}
