import AuthRPC
import AuthWire
import Synchronization
import Testing

/// A domain error of the kind handlers throw, converted by the router.
private struct Refusal: Error, RPCErrorConvertible {
    var rpcError: RPCError { RPCError(code: .failedPrecondition, message: "refused on purpose") }
}

private struct Secret: Error {
    let detail = "the password was hunter2"
}

@Suite("Router: access rules and error conversion")
struct RouterTests {
    static let guarded = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Guarded", method: "Echo")
    static let unruled = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Unruled", method: "Echo")

    @Test("a service without an access rule is refused at dispatch, its handler never runs")
    func noRuleDenies() async throws {
        let ran = Atomic<Int>(0)
        var router = makeTestRouter()
        router.register(Self.unruled) { request, _ in
            ran.add(1, ordering: .relaxed)
            return request
        }
        let running = try await RunningServer.start(router: router)
        let client = running.client()
        let error = await #expect(throws: RPCError.self) { try await client.call(Self.unruled, AuthV1.StringValue(value: "x")) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("test.v1.Unruled") == true)
        #expect(ran.load(ordering: .relaxed) == 0)
        await client.close()
        await running.stop()
    }

    @Test("a guarded service checks every method, also one registered after the rule, before decoding")
    func guardedChecksLateMethods() async throws {
        var router = makeTestRouter()
        router.setAccess(
            .guarded { context throws(RPCError) in
                guard context.metadata["authorization"] == "Bearer good" else {
                    throw RPCError(code: .unauthenticated, message: "no key")
                }
                return "good"
            },
            for: "test.v1.Guarded"
        )
        // Registered after the rule was set: still guarded.
        router.register(Self.guarded) { request, _ in request }
        let running = try await RunningServer.start(router: router)
        let client = running.client()
        let refused = await #expect(throws: RPCError.self) { try await client.call(Self.guarded, AuthV1.StringValue(value: "x")) }
        #expect(refused?.code == .unauthenticated)
        // Garbage payload without a key: the rule answers first, not the decoder.
        let garbage = await #expect(throws: RPCError.self) {
            try await client.callRaw(Self.guarded.path, payload: [0xFF, 0xFF, 0xFF])
        }
        #expect(garbage?.code == .unauthenticated)
        let allowed = try await client.call(
            Self.guarded, AuthV1.StringValue(value: "x"), options: CallOptions(metadata: ["authorization": "Bearer good"]))
        #expect(allowed.value == "x")
        await client.close()
        await running.stop()
    }

    @Test("a convertible error keeps its status; any other error is INTERNAL without its text")
    func errorConversion() async throws {
        let refuse = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Refuse")
        let crash = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Crash")
        var router = makeTestRouter()
        router.register(refuse) { _, _ in throw Refusal() }
        router.register(crash) { _, _ in throw Secret() }
        let running = try await RunningServer.start(router: router)
        let client = running.client()
        let refused = await #expect(throws: RPCError.self) { try await client.call(refuse, AuthV1.StringValue()) }
        #expect(refused?.code == .failedPrecondition)
        #expect(refused?.message == "refused on purpose")
        let crashed = await #expect(throws: RPCError.self) { try await client.call(crash, AuthV1.StringValue()) }
        #expect(crashed?.code == .internal)
        #expect(crashed?.message.contains("hunter2") == false)
        await client.close()
        await running.stop()
    }
}
