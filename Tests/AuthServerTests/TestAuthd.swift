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

    var databasePath: String { directory.appendingPathComponent("authd.sqlite").path }

    static func start(
        directory: URL? = nil,
        clock: ManualWallClock = ManualWallClock(),
        scrypt: ScryptParameters = .testing,
        identity: IdentityConfiguration = .defaults
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
                clock: clock
            ),
            logger: logger
        )
        try await server.start()
        let task = Task { try await server.run() }
        let client = AuthdClient(host: "127.0.0.1", port: server.localPort!)
        return TestAuthd(directory: directory, clock: clock, server: server, task: task, client: client)
    }

    private init(directory: URL, clock: ManualWallClock, server: AuthdServer, task: Task<Void, any Error>, client: AuthdClient) {
        self.directory = directory
        self.clock = clock
        self.server = server
        self.task = task
        self.client = client
    }

    /// Stops the server, keeping the database.
    func stop() async throws {
        await client.close()
        server.beginGracefulShutdown()
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
    func signUp(_ email: String, _ password: String = "correct horse", attributes: [String: String] = [:]) async throws -> SignUpResponse {
        try await auth.signUp(SignUpRequest(email: email, password: password, attributes: attributes))
    }

    func login(_ email: String, _ password: String, from address: String? = nil) async throws -> LoginResponse {
        let options = CallOptions(metadata: address.map { [MetadataKey.clientAddress: $0] } ?? [:])
        return try await auth.login(LoginRequest(email: email, password: password), options: options)
    }

    func me(_ token: String) async throws -> AuthWire.User {
        try await auth.getMe(GetMeRequest(token: token)).user!
    }
}
