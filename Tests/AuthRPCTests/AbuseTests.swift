import AuthRPC
import AuthWire
import NIOCore
import Testing

@Suite("Abuse resistance over TCP")
struct AbuseTests {
    @Test("connections from one peer address beyond its cap are refused; another address is served")
    func perPeerCap() async throws {
        let running = try await RunningServer.start {
            $0.maximumConnections = 10
            $0.maximumConnectionsPerPeer = 2
        }
        let first = running.client()
        let second = running.client()
        #expect(try await first.call(TestMethods.echo, AuthV1.StringValue(value: "0:1")).value == "1")
        #expect(try await second.call(TestMethods.echo, AuthV1.StringValue(value: "0:2")).value == "2")

        let third = try await RawConnection.connect(port: running.port)
        let (refused, closed) = try await third.exchange([])
        #expect(closed)
        #expect(refused.first?.kind == .goaway)
        #expect(refused.first?.status?.code == .resourceExhausted)
        #expect(refused.first?.status?.message == "127.0.0.1 has 2 connections open (the limit per peer address)")

        let elsewhere = try await RawConnection.connect(port: running.port, from: "127.0.0.2")
        let request = AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.echo.path, payload: echoRequest("0:other peer"))
        let (answers, _) = try await elsewhere.exchange(RawConnection.frameBytes(request), untilFrames: 1)
        #expect(answers.first?.kind == .response)
        #expect(try AuthV1.StringValue(decoding: answers.first?.payload ?? []).value == "other peer")

        await first.close()
        await second.close()
        await running.stop()
    }

    @Test("an envelope with more metadata entries than allowed gets GOAWAY INVALID_ARGUMENT naming metadata")
    func metadataLimit() async throws {
        let running = try await RunningServer.start { $0.envelopeLimits = DecodingLimits(maximumElements: 4, maximumFields: 64) }
        let entries = Dictionary(uniqueKeysWithValues: (0..<5).map { ("key-\($0)", "v") })
        let frame = AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.echo.path, payload: echoRequest("0:x"), metadata: entries)
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, closed) = try await connection.exchange(RawConnection.frameBytes(frame))
        #expect(closed)
        #expect(frames.last?.kind == .goaway)
        #expect(frames.last?.status?.code == .invalidArgument)
        #expect(frames.last?.status?.message == "frame is not a valid auth.v1.Frame: field metadata has more than 4 entries (the limit)")
        await running.stop()
    }

    @Test("a request over its element limit is INVALID_ARGUMENT naming the field; the connection goes on")
    func requestLimit() async throws {
        let running = try await RunningServer.start { $0.requestLimits = DecodingLimits(maximumElements: 10) }
        let client = running.client()
        let error = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.count, AuthV1.StringList(values: Array(repeating: "", count: 11)))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.fieldViolations.first?.field == "values")
        #expect(error?.message == "payload of /test.v1.Test/Count is not a valid auth.v1.StringList: field values has more than 10 elements (the limit)")
        #expect(try await client.call(TestMethods.count, AuthV1.StringList(values: Array(repeating: "", count: 10))).value == "10")
        await client.close()
        await running.stop()
    }

    @Test("a method may be allowed more elements than the others")
    func perMethodLimit() async throws {
        let running = try await RunningServer.start {
            $0.requestLimits = DecodingLimits(maximumElements: 10)
            $0.methodRequestLimits[TestMethods.count.path] = DecodingLimits(maximumElements: 5000)
        }
        let client = running.client()
        #expect(try await client.call(TestMethods.count, AuthV1.StringList(values: Array(repeating: "v", count: 5000))).value == "5000")
        await client.close()
        await running.stop()
    }

    @Test("a request string holding NUL is INVALID_ARGUMENT naming the field, not cut at the NUL")
    func nulInRequest() async throws {
        let running = try await RunningServer.start()
        // StringValue{value: "0:abc\0def"}, written by hand: no encoder here writes NUL.
        let value = Array("0:abc".utf8) + [0] + Array("def".utf8)
        let payload: [UInt8] = [0x0A, UInt8(value.count)] + value
        let frame = AuthV1.Frame(kind: .request, callID: 1, method: TestMethods.echo.path, payload: payload)
        let connection = try await RawConnection.connect(port: running.port)
        let (frames, _) = try await connection.exchange(RawConnection.frameBytes(frame), untilFrames: 1)
        let status = frames.first?.status
        #expect(status?.code == .invalidArgument)
        #expect(status?.fieldViolations.first?.field == "value")
        #expect(status?.message.contains("field value contains a NUL byte") == true)
        await running.stop()
    }

    @Test("after calls of every kind the server holds no bytes of them")
    func budgetReturnsToZero() async throws {
        let running = try await RunningServer.start { $0.maximumCallsInFlight = 8 }
        let client = running.client()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    switch index % 4 {
                    case 0: _ = try? await client.call(TestMethods.echo, AuthV1.StringValue(value: "1:ok"))
                    case 1: _ = try? await client.call(TestMethods.fail, AuthV1.StringValue(value: "no"))
                    case 2: _ = try? await client.call(TestMethods.block, AuthV1.StringValue(value: "late"), options: CallOptions(timeout: .milliseconds(20)))
                    default: _ = try? await client.callRaw("/no.such/Method", payload: [])
                    }
                }
            }
            try await group.waitForAll()
        }
        let violation = try await RawConnection.connect(port: running.port)
        _ = try await violation.exchange(RawConnection.frameBytes(AuthV1.Frame(kind: .request, callID: 0)))
        await client.close()
        var held = running.server.bufferedBytes
        for _ in 0..<200 where held != 0 {
            try await Task.sleep(for: .milliseconds(10))
            held = running.server.bufferedBytes
        }
        #expect(held == 0)
        await running.stop()
    }
}
