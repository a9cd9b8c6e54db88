import AuthClient
import AuthServer
import Logging
import Testing

@Suite("authd server")
struct HealthTests {
    private func startServer() async throws -> (AuthdServer, Task<Void, any Error>, AuthdClient) {
        var logger = Logger(label: "test.authd")
        logger.logLevel = .critical
        let server = AuthdServer(configuration: .init(rpc: .init(port: 0)), logger: logger)
        try await server.start()
        let task = Task { try await server.run() }
        let client = AuthdClient(host: "127.0.0.1", port: server.localPort!)
        return (server, task, client)
    }

    @Test("health answers SERVING for the server and for itself, NOT_FOUND for strangers")
    func health() async throws {
        let (server, task, client) = try await startServer()
        #expect(try await client.health.check(HealthCheckRequest()).status == .serving)
        #expect(try await client.health.check(HealthCheckRequest(service: "auth.v1.Health")).status == .serving)
        let error = await #expect(throws: RPCError.self) {
            try await client.health.check(HealthCheckRequest(service: "auth.v1.Nope"))
        }
        #expect(error?.code == .notFound)
        await client.close()
        server.beginGracefulShutdown()
        try await task.value
    }

    @Test("methods of services this build does not serve are UNIMPLEMENTED")
    func unimplementedServices() async throws {
        let (server, task, client) = try await startServer()
        let error = await #expect(throws: RPCError.self) {
            try await client.mail.queueStats(QueueStatsRequest())
        }
        #expect(error?.code == .unimplemented)
        #expect(error?.message == "method /auth.v1.Mail/QueueStats is not implemented by this server")
        await client.close()
        server.beginGracefulShutdown()
        try await task.value
    }
}
