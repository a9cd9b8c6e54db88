import AuthClient
import AuthdTesting
import Testing

@Suite("authd server")
struct HealthTests {
    @Test("health answers SERVING for the server and the services it routes, NOT_FOUND for strangers")
    func health() async throws {
        try await withTestAuthd { authd async throws in
            let client = authd.client
            #expect(try await client.health.check(AuthV1.HealthCheckRequest()).status == .serving)
            #expect(try await client.health.check(AuthV1.HealthCheckRequest(service: "auth.v1.Health")).status == .serving)
            #expect(try await client.health.check(AuthV1.HealthCheckRequest(service: "auth.v1.Auth")).status == .serving)
            let error = await #expect(throws: RPCError.self) {
                try await client.health.check(AuthV1.HealthCheckRequest(service: "auth.v1.Nope"))
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test("methods this server does not route are UNIMPLEMENTED, before any key check")
    func unimplementedServices() async throws {
        try await withTestAuthd { authd async throws in
            let error = await #expect(throws: RPCError.self) {
                try await authd.client.connection.callRaw("/auth.v1.Mail/Nothing", payload: [])
            }
            #expect(error?.code == .unimplemented)
            #expect(error?.message == "method /auth.v1.Mail/Nothing is not implemented by this server")
        }
    }
}
