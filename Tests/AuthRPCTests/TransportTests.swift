import AuthRPC
import AuthWire
import NIOCore
import Synchronization
import Testing

@Suite("Framed RPC over real TCP")
struct TransportTests {
    @Test("1000 concurrent calls over 10 connections all complete, out of order")
    func concurrentOutOfOrder() async throws {
        let running = try await RunningServer.start()
        let clients = (0..<10).map { _ in running.client() }
        let completionOrder = CompletionOrder(connections: 10)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for call in 0..<1000 {
                let connection = call % 10
                let client = clients[connection]
                group.addTask {
                    // Later calls on a connection sleep less, so they overtake earlier ones.
                    let delay = (1000 - call) % 37
                    let response = try await client.call(
                        TestMethods.echo,
                        AuthV1.StringValue(value: "\(delay):call-\(call)")
                    )
                    #expect(response.value == "call-\(call)")
                    completionOrder.record(call, on: connection)
                }
            }
            try await group.waitForAll()
        }
        let orders = completionOrder.orders
        #expect(orders.allSatisfy { $0.count == 100 })
        #expect(orders.contains { $0 != $0.sorted() }, "no connection completed calls out of order")
        for client in clients { await client.close() }
        await running.stop()
    }

    @Test("an error thrown by a handler arrives with its code, message and field")
    func handlerError() async throws {
        let running = try await RunningServer.start()
        let client = running.client()
        let error = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.fail, AuthV1.StringValue(value: "zzz"))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "value 'zzz' is not acceptable")
        #expect(error?.fieldViolations.map(\.field) == ["value"])
        await client.close()
        await running.stop()
    }

    @Test("an unknown method is UNIMPLEMENTED and the connection goes on")
    func unknownMethod() async throws {
        let running = try await RunningServer.start()
        let client = running.client()
        let unknown = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Nope")
        let error = await #expect(throws: RPCError.self) { try await client.call(unknown, AuthV1.StringValue()) }
        #expect(error?.code == .unimplemented)
        #expect(error?.message.contains("/test.v1.Test/Nope") == true)
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:still here")).value == "still here")
        await client.close()
        await running.stop()
    }

    @Test("a payload of the wrong type is INVALID_ARGUMENT naming the type, and the connection goes on")
    func wrongPayloadType() async throws {
        let running = try await RunningServer.start()
        let client = running.client()
        // A Frame where a StringValue is expected: fields 1 (varint) and 7 are not a StringValue's.
        let payload = AuthV1.Frame(kind: .request, callID: 5, timeoutMs: 3).encoded()
        let error = await #expect(throws: RPCError.self) {
            try await client.callRaw(TestMethods.echo.path, payload: payload)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("auth.v1.StringValue") == true)
        let garbage = await #expect(throws: RPCError.self) {
            try await client.callRaw(TestMethods.echo.path, payload: [0xFF, 0xFF, 0xFF])
        }
        #expect(garbage?.code == .invalidArgument)
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:ok")).value == "ok")
        await client.close()
        await running.stop()
    }

    @Test("metadata reaches the handler with lower-case keys")
    func metadata() async throws {
        let running = try await RunningServer.start()
        let client = running.client(ClientConfiguration(metadata: ["authorization": "Bearer k"]))
        let options = CallOptions(metadata: ["X-Client-Address": "203.0.113.9"])
        #expect(try await client.call(TestMethods.metadata, AuthV1.StringValue(value: "x-client-address"), options: options).value == "203.0.113.9")
        #expect(try await client.call(TestMethods.metadata, AuthV1.StringValue(value: "authorization")).value == "Bearer k")
        await client.close()
        await running.stop()
    }

    @Test("the client reconnects after the server restarts on the same port")
    func reconnect() async throws {
        let first = try await RunningServer.start()
        let port = first.port
        let client = first.client()
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:one")).value == "one")
        await first.stop()
        let down = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:two"))
        }
        #expect(down?.code == .unavailable)
        let second = try await RunningServer.start { $0.port = port }
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:three")).value == "three")
        await client.close()
        await second.stop()
    }

    @Test("graceful shutdown lets calls in flight finish, then says GOAWAY")
    func gracefulShutdown() async throws {
        let log = CancellationLog()
        let running = try await RunningServer.start(router: makeTestRouter(log: log))
        let client = running.client()
        async let slow = client.call(TestMethods.slow, AuthV1.StringValue(value: "in flight"))
        #expect(await log.waitUntilStarted("in flight"))
        running.server.beginGracefulShutdown()
        #expect(try await slow.value == "done")
        _ = await running.task.result
        let after = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:late"))
        }
        #expect(after?.code == .unavailable)
        await client.close()
    }
}

/// Which calls finished in which order, per connection.
final class CompletionOrder: Sendable {
    private let storage: Mutex<[[Int]]>

    init(connections: Int) {
        storage = Mutex(Array(repeating: [], count: connections))
    }

    func record(_ call: Int, on connection: Int) {
        storage.withLock { $0[connection].append(call) }
    }

    var orders: [[Int]] { storage.withLock { $0 } }
}

@Suite("Deadlines and cancellation")
struct DeadlineTests {
    @Test("a call slower than its timeout fails DEADLINE_EXCEEDED and the server stops its work")
    func serverSideDeadline() async throws {
        let log = CancellationLog()
        let running = try await RunningServer.start(router: makeTestRouter(log: log))
        // Raw frames, so that only the server's deadline can answer.
        let connection = try await RawConnection.connect(port: running.port)
        let request = AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.block.path, payload: echoRequest("slow-1"), timeoutMs: 50)
        let clock = ContinuousClock()
        let started = clock.now
        let (frames, _) = try await connection.exchange(RawConnection.frameBytes(request), untilFrames: 1)
        #expect(frames.first?.kind == .response)
        #expect(frames.first?.status?.code == .deadlineExceeded)
        #expect(frames.first?.status?.message == "deadline of 50 ms exceeded")
        #expect(clock.now - started < .seconds(5))
        #expect(await log.waitUntilCancelled("slow-1"))
        await running.stop()
    }

    @Test("the client's own deadline fails the call even when the server never answers")
    func clientSideDeadline() async throws {
        let log = CancellationLog()
        let running = try await RunningServer.start(router: makeTestRouter(log: log))
        let client = running.client()
        let error = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.block, AuthV1.StringValue(value: "slow-2"), options: CallOptions(timeout: .milliseconds(80)))
        }
        #expect(error?.code == .deadlineExceeded)
        // The connection is still good for other calls.
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:next")).value == "next")
        #expect(await log.waitUntilCancelled("slow-2"))
        await client.close()
        await running.stop()
    }

    @Test("a call id reused after CANCEL gets its own answer, not the cancelled call's")
    func reusedCallID() async throws {
        let log = CancellationLog()
        let running = try await RunningServer.start(router: makeTestRouter(log: log))
        let connection = try await RawConnection.connect(port: running.port)
        let frames = [
            AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.block.path, payload: echoRequest("old")),
            AuthV1.Frame(kind: .cancel, callID: 1),
            AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.echo.path, payload: echoRequest("300:new")),
        ]
        let (responses, _) = try await connection.exchange(frames.flatMap(RawConnection.frameBytes), untilFrames: 1)
        #expect(responses.count == 1)
        #expect(responses.first?.callID == 1)
        #expect(try AuthV1.StringValue(decoding: responses.first?.payload ?? []).value == "new")
        #expect(await log.waitUntilCancelled("old"))
        await running.stop()
    }

    @Test("cancelling the calling task sends CANCEL and the server cancels the handler")
    func taskCancellation() async throws {
        let log = CancellationLog()
        let running = try await RunningServer.start(router: makeTestRouter(log: log))
        let client = running.client()
        let task = Task { try await client.call(TestMethods.block, AuthV1.StringValue(value: "slow-3")) }
        #expect(await log.waitUntilStarted("slow-3"))
        task.cancel()
        let result = await task.result
        #expect(throws: RPCError.self) { try result.get() }
        #expect(await log.waitUntilCancelled("slow-3"))
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:after")).value == "after")
        await client.close()
        await running.stop()
    }
}

@Suite("Limits and malformed input")
struct LimitTests {
    @Test("a length above the frame limit gets GOAWAY RESOURCE_EXHAUSTED and a close")
    func oversizeFrame() async throws {
        let running = try await RunningServer.start { $0.maximumFrameBytes = 1024 }
        let connection = try await RawConnection.connect(port: running.port)
        // The header alone announces 2000 bytes; the server must not wait for them.
        let (frames, closed) = try await connection.exchange([0x00, 0x00, 0x07, 0xD0])
        #expect(closed)
        #expect(frames.count == 1)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.status?.code == .resourceExhausted)
        #expect(frames.first?.status?.message == "frame of 2000 bytes exceeds the limit of 1024 bytes")
        try await assertStillServing(running)
        await running.stop()
    }

    @Test("a frame whose bytes are not a Frame gets GOAWAY INVALID_ARGUMENT and a close")
    func garbageEnvelope() async throws {
        let running = try await RunningServer.start()
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await connection.exchange([0x00, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF])
        #expect(closed)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.status?.code == .invalidArgument)
        #expect(frames.first?.status?.message.contains("auth.v1.Frame") == true)
        try await assertStillServing(running)
        await running.stop()
    }

    @Test("requests cut at every byte, and many glued into one write, are each answered once")
    func framingAcrossReads() async throws {
        let running = try await RunningServer.start()
        let request = { (id: UInt64) in
            RawConnection.frameBytes(
                AuthV1.Frame(kind: .request, callID: id, method: TestMethods.echo.path, payload: echoRequest("0:call \(id)"))
            )
        }
        // Calls 1 and 2 a byte at a time, the prefix of 2 glued to the end of 1; calls 3 to 40 in one write.
        let cut = request(1) + request(2)
        var pieces = cut.map { [$0] }
        pieces.append((3...40).flatMap(request))
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await connection.exchange(pieces: pieces, pause: .milliseconds(1), untilFrames: 40)
        #expect(!closed)
        #expect(frames.map(\.callID).sorted() == Array(1...40))
        for frame in frames {
            #expect(frame.kind == .response)
            #expect(frame.status?.code == .ok)
            #expect(try AuthV1.StringValue(decoding: frame.payload).value == "call \(frame.callID)")
        }
        #expect(running.server.bufferedBytes == 0, "every request's bytes were given back")
        await running.stop()
    }

    @Test("a frame cut short by EOF closes the connection without an answer")
    func truncatedFrame() async throws {
        let running = try await RunningServer.start()
        let connection = try await RawConnection.connect(port: running.port)
        let whole = RawConnection.frameBytes(AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.echo.path, payload: echoRequest("0:x")))
        let (frames, closed) = try await connection.exchange(Array(whole.prefix(whole.count - 3)), halfClose: true)
        #expect(closed)
        #expect(frames.isEmpty)
        try await assertStillServing(running)
        await running.stop()
    }

    @Test("protocol violations get GOAWAY INVALID_ARGUMENT", arguments: [
        ("call id 0", [AuthV1.Frame(kind: .request, callID: 0, method: "/test.v1.Test/Echo")], "call_id 0"),
        ("a response from the client", [AuthV1.Frame(kind: .response, callID: 4)], "FRAME_KIND_RESPONSE is not allowed"),
        ("an unspecified kind", [AuthV1.Frame(kind: .unspecified, callID: 4)], "FRAME_KIND_UNSPECIFIED is not allowed"),
        (
            "a call id already in flight",
            [
                AuthV1.Frame(kind: .request, callID: 9, method: "/test.v1.Test/Block", payload: echoRequest("dup")),
                AuthV1.Frame(kind: .request, callID: 9, method: "/test.v1.Test/Block", payload: echoRequest("dup")),
            ],
            "call id 9 is already in flight"
        ),
    ])
    func protocolViolation(name: String, sent: [AuthV1.Frame], message: String) async throws {
        let running = try await RunningServer.start()
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await connection.exchange(sent.flatMap(RawConnection.frameBytes))
        #expect(closed, "\(name)")
        #expect(frames.last?.kind == .goaway)
        #expect(frames.last?.status?.code == .invalidArgument)
        #expect(frames.last?.status?.message.contains(message) == true, "\(frames.last?.status?.message ?? "")")
        try await assertStillServing(running)
        await running.stop()
    }

    @Test("more calls in flight than the limit are RESOURCE_EXHAUSTED, the rest succeed")
    func inFlightLimit() async throws {
        let running = try await RunningServer.start { $0.maximumCallsInFlight = 4 }
        let connection = try await RawConnection.connect(port: running.port)
        let frames = (1...6).map { id in
            AuthV1.Frame(kind: .request, callID: UInt64(id), method: TestMethods.echo.path, payload: echoRequest("200:call \(id)"))
        }
        let (responses, _) = try await connection.exchange(frames.flatMap(RawConnection.frameBytes), untilFrames: 6)
        let byID = Dictionary(uniqueKeysWithValues: responses.map { ($0.callID, $0) })
        for id in 1...4 {
            #expect(byID[UInt64(id)]?.status?.code == .ok)
        }
        for id in 5...6 {
            #expect(byID[UInt64(id)]?.status?.code == .resourceExhausted)
            #expect(byID[UInt64(id)]?.status?.message.contains("limit 4") == true)
        }
        await running.stop()
    }

    @Test("an idle connection gets GOAWAY UNAVAILABLE and a close")
    func idleTimeout() async throws {
        let running = try await RunningServer.start { $0.idleTimeout = .milliseconds(200) }
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await connection.exchange([])
        #expect(closed)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.status?.code == .unavailable)
        #expect(frames.first?.status?.message.contains("idle") == true)
        await running.stop()
    }

    @Test("a call in flight keeps a connection from idling out")
    func busyIsNotIdle() async throws {
        // The slow call is the connection's first, sent as it opens: between two calls the
        // connection is idle, and on two loaded cores a gap between them can exceed any
        // timeout the test picks, and is then rightly closed.
        let running = try await RunningServer.start { $0.idleTimeout = .seconds(2) }
        let client = running.client()
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "4500:slow but fine")).value == "slow but fine")
        await client.close()
        await running.stop()
    }

    @Test("connections over the limit get GOAWAY RESOURCE_EXHAUSTED; a freed slot is reused")
    func connectionLimit() async throws {
        let running = try await RunningServer.start { $0.maximumConnections = 2 }
        let first = running.client()
        let second = running.client()
        #expect(try await first.call(TestMethods.echo, AuthV1.StringValue(value: "0:1")).value == "1")
        #expect(try await second.call(TestMethods.echo, AuthV1.StringValue(value: "0:2")).value == "2")
        let third = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await third.exchange([])
        #expect(closed)
        #expect(frames.first?.kind == .goaway)
        #expect(frames.first?.status?.code == .resourceExhausted)
        await first.close()
        // The server counts the slot free once it sees the close.
        var served = false
        for _ in 0..<50 where !served {
            let fourth = running.client()
            served = (try? await fourth.call(TestMethods.echo, AuthV1.StringValue(value: "0:4"))) != nil
            await fourth.close()
            if !served { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(served)
        await second.close()
        await running.stop()
    }

    private func assertStillServing(_ running: RunningServer) async throws {
        let client = running.client()
        #expect(try await client.call(TestMethods.echo, AuthV1.StringValue(value: "0:alive")).value == "alive")
        await client.close()
    }
}
