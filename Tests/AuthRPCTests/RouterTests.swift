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

    @Test("an answer from memory answers on a hit, hands a miss to the handler, converts its errors, refuses bad payloads, takes no bytes as the default request")
    func answerFromMemory() async throws {
        let lookup = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Memory", method: "Lookup")
        let handled = Atomic<Int>(0)
        var router = makeTestRouter()
        router.setAccess(.open, for: "test.v1.Memory")
        router.register(lookup) { request, _ in
            handled.add(1, ordering: .relaxed)
            return AuthV1.StringValue(value: "from the handler: \(request.value)")
        }
        router.answerFromMemory(lookup) { request, _ in
            switch request.value {
            case "cached": return AuthV1.StringValue(value: "from memory")
            case "": return AuthV1.StringValue(value: "the default request")
            case "refused": throw Refusal()
            default: return nil
            }
        }
        let running = try await RunningServer.start(router: router)
        let client = running.client()
        #expect(try await client.call(lookup, AuthV1.StringValue(value: "cached")).value == "from memory")
        #expect(handled.load(ordering: .relaxed) == 0)
        #expect(try await client.call(lookup, AuthV1.StringValue(value: "other")).value == "from the handler: other")
        #expect(handled.load(ordering: .relaxed) == 1)
        let refused = await #expect(throws: RPCError.self) { try await client.call(lookup, AuthV1.StringValue(value: "refused")) }
        #expect(refused?.code == .failedPrecondition && refused?.message == "refused on purpose")
        let garbage = await #expect(throws: RPCError.self) { try await client.callRaw(lookup.path, payload: [0xFF, 0xFF, 0xFF]) }
        #expect(garbage?.code == .invalidArgument)
        // No payload bytes are the request with every field at its default (proto3).
        let empty = try await client.callRaw(lookup.path, payload: [])
        #expect(try AuthV1.StringValue(decoding: empty).value == "the default request")
        #expect(handled.load(ordering: .relaxed) == 1)
        // Over the inline size the request goes to the handler, which decodes it off the loop.
        let large = String(repeating: "x", count: 2048)
        #expect(try await client.call(lookup, AuthV1.StringValue(value: large)).value == "from the handler: \(large)")
        #expect(handled.load(ordering: .relaxed) == 2)
        await client.close()
        await running.stop()
    }

    @Test("a guarded service's methods never answer from memory: the access check runs first")
    func guardedNeverAnswersFromMemory() async throws {
        var router = makeTestRouter()
        router.setAccess(.guarded { _ throws(RPCError) in throw RPCError(code: .unauthenticated, message: "no key") }, for: "test.v1.Guarded")
        router.register(Self.guarded) { request, _ in request }
        router.answerFromMemory(Self.guarded) { request, _ in request }
        let running = try await RunningServer.start(router: router)
        let client = running.client()
        let refused = await #expect(throws: RPCError.self) { try await client.call(Self.guarded, AuthV1.StringValue(value: "x")) }
        #expect(refused?.code == .unauthenticated)
        await client.close()
        await running.stop()
    }
}
