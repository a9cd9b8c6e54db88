import AuthClient
import AuthdTesting
import AuthServer
import Foundation
import Synchronization
import Testing

@Suite("Management port")
struct ManagementTests {
    @Test("/healthz answers 200; /readyz 200 with every check ok")
    func healthAndReadiness() async throws {
        try await withTestAuthd(management: true) { authd async throws in
            let health = try await authd.managementGet("/healthz")
            #expect(health.status == 200)
            #expect(health.body.contains(#""status":"alive""#))
            let ready = try await authd.managementGet("/readyz")
            #expect(ready.status == 200)
            #expect(ready.body.contains(#""status":"ready""#))
            #expect(ready.body.contains(#""database":"ok""#))
            #expect(ready.body.contains(#""serving":"ok""#))
            #expect(try await authd.managementGet("/nothing").status == 404)
        }
    }

    @Test("/metrics counts known calls by method and code, logins and token checks by outcome")
    func metricsAfterKnownCalls() async throws {
        try await withTestAuthd(management: true) { authd async throws in
            let client = authd.client
            _ = try await client.signUp("grace@example.com", "correct horse")
            let token = try await client.login("grace@example.com", "correct horse").session!.token
            _ = try await client.login("grace@example.com", "correct horse")
            await expectRPCError(.unauthenticated) { _ = try await client.login("grace@example.com", "wrong horse") }
            for _ in 0..<3 { _ = try await client.me(token) }
            await expectRPCError(.unauthenticated) { _ = try await client.me("not a token") }
            _ = try await authd.adminClient.admin.listRoles(AuthV1.Empty())

            #expect(try await authd.metric(#"authd_rpc_calls_total{method="/auth.v1.Auth/Login",code="OK"}"#) == 2)
            #expect(try await authd.metric(#"authd_rpc_calls_total{method="/auth.v1.Auth/Login",code="UNAUTHENTICATED"}"#) == 1)
            #expect(try await authd.metric(#"authd_rpc_calls_total{method="/auth.v1.Auth/GetMe",code="OK"}"#) == 3)
            #expect(try await authd.metric(#"authd_rpc_calls_total{method="/auth.v1.Auth/GetMe",code="UNAUTHENTICATED"}"#) == 1)
            #expect(try await authd.metric(#"authd_rpc_calls_total{method="/auth.v1.Auth/SignUp",code="OK"}"#) == 1)
            #expect(try await authd.metric(#"authd_rpc_call_duration_seconds_count{method="/auth.v1.Auth/GetMe"}"#) == 4)
            #expect(try await authd.metric(#"authd_logins_total{outcome="ok"}"#) == 2)
            #expect(try await authd.metric(#"authd_logins_total{outcome="wrong"}"#) == 1)
            #expect(try await authd.metric(#"authd_token_checks_total{outcome="ok"}"#) == 3)
            #expect(try await authd.metric(#"authd_token_checks_total{outcome="invalid"}"#) == 1)
            #expect(try await authd.metric("authd_rpc_calls_in_flight") == 0)
            #expect(try await authd.metric("authd_rpc_connections_open") >= 2)
            // Sign-up and three logins hashed (the wrong password too).
            #expect(try await authd.metric("authd_password_hash_duration_seconds_count") >= 4)
            #expect(try await authd.metric(#"authd_db_transaction_duration_seconds_count{kind="write"}"#) >= 1)
            // Sign-up queues no mail; nothing is queued.
            #expect(try await authd.metric(#"authd_outbox_messages{state="queued"}"#) == 0)
            // A made-up method is counted as "unknown", not as a new series.
            let bogus = MethodDescriptor<AuthV1.Empty, AuthV1.Empty>(service: "auth.v1.Made", method: "Up")
            await expectRPCError(.unimplemented) { _ = try await client.connection.call(bogus, AuthV1.Empty()) }
            #expect(try await authd.metric(#"authd_rpc_calls_total{method="unknown",code="UNIMPLEMENTED"}"#) == 1)
            let body = try await authd.managementGet("/metrics").body
            #expect(!body.contains("Made/Up"))
        }
    }

    @Test("/readyz answers 503 naming the drain while calls in flight finish; they are answered")
    func notReadyWhileDraining() async throws {
        let slow = MethodDescriptor<AuthV1.Empty, AuthV1.StringValue>(service: HealthService.name, method: "Slow")
        let gate = Gate()
        try await withTestAuthd(management: true, registeringMore: { router in
            router.register(slow) { _, _ in
                await gate.wait()
                return AuthV1.StringValue(value: "finished")
            }
        }) { authd async throws in
            // A client of its own: stopping the harness closes its clients first.
            let client = authd.client(key: "none")
            let call = Task { try await client.connection.call(slow, AuthV1.Empty()).value }
            try await waitUntil { try await authd.metric("authd_rpc_calls_in_flight") == 1 }
            let stopping = Task { try await authd.stop() }
            var seen: (status: Int, body: String) = (0, "")
            try await waitUntil {
                seen = try await authd.managementGet("/readyz")
                return seen.status == 503
            }
            #expect(seen.body.contains(#""serving":"draining"#))
            #expect(seen.body.contains("draining"))
            gate.open()
            #expect(try await call.value == "finished")
            try await stopping.value
        }
    }
}

/// Polls `condition` until it holds; fails the test after many tries rather than hanging.
func waitUntil(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<2000 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition never held")
    throw CancellationError()
}

/// Holds callers of `wait()` until `open()`.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
