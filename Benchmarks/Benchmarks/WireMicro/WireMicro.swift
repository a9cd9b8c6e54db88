// Micro-benchmarks of authd's own wire code on the token check's path (`make bench-micro`):
// the framing codec of AuthRPC, the protobuf-c envelope and messages of AuthWire, the token
// hash of AuthCrypto. Each reports wall clock, CPU and mallocs per operation.
import AuthCrypto
import AuthRPC
import AuthWire
import Benchmark
import NIOCore

// authd's wire types, named once here (they live in the AuthV1 namespace).
typealias WireFrame = AuthV1.Frame
typealias WireStatus = AuthV1.Status
typealias WireUser = AuthV1.User
typealias WireGetMeRequest = AuthV1.GetMeRequest
typealias WireGetMeResponse = AuthV1.GetMeResponse

/// What a GetMe looks like on the wire in the peer harness: a 51-character session token,
/// a user with two attributes, two roles and one group, a 16-digit request id.
enum Sample {
    static let token = "authd_st_" + String(repeating: "x", count: 43)
    static let request = WireGetMeRequest(token: token)
    static let user = WireUser(
        id: "5b0c3f52-8a4e-4c61-9d0e-2f6b9a7c1d34",
        email: "bench@example.com",
        attributes: ["name": "Bench User", "image": "https://example.com/bench.png"],
        roles: ["Editor", "Premium"],
        groups: ["PremiumEditors"],
        hasPassword: true,
        createdAtMs: 1_796_000_000_000,
        updatedAtMs: 1_796_000_000_000
    )
    static let response = WireGetMeResponse(user: user)
    static let requestFrame = WireFrame(kind: .request, callID: 123_456, method: "/auth.v1.Auth/GetMe", payload: request.encoded())
    static let responseFrame = WireFrame(
        kind: .response, callID: 123_456, payload: response.encoded(), status: WireStatus(),
        metadata: ["x-request-id": "0123456789abcdef"]
    )
    static let requestFrameBytes = requestFrame.encoded()
    static let responseFrameBytes = responseFrame.encoded()
    static let requestBytes = request.encoded()
    static let responseBytes = response.encoded()

    /// 10^5 session-token hashes and the sample's, made once.
    static let sessions: [[UInt8]: Int] = {
        var sessions: [[UInt8]: Int] = [:]
        sessions.reserveCapacity(100_001)
        for index in 0..<100_000 { sessions[SecretToken.hash("authd_st_session-\(index)")] = index }
        sessions[SecretToken.hash(token)] = -1
        return sessions
    }()

    /// The request frame with its 4-byte length prefix, as it arrives from a socket.
    static var prefixedRequestFrame: ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 4 + requestFrameBytes.count)
        buffer.writeInteger(UInt32(requestFrameBytes.count))
        buffer.writeBytes(requestFrameBytes)
        return buffer
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    Benchmark("Frame decode: GetMe request, FrameDecoder (ByteBuffer → Frame)") { benchmark in
        var decoder = FrameDecoder(maximumFrameBytes: 4 << 20, limits: DecodingLimits())
        let input = Sample.prefixedRequestFrame
        for _ in benchmark.scaledIterations {
            var buffer = input
            blackHole(try decoder.decode(buffer: &buffer))
        }
    }

    Benchmark("Frame encode: GetMe response, FrameEncoder (Frame → ByteBuffer)") { benchmark in
        let encoder = FrameEncoder()
        let frame = Sample.responseFrame
        var out = ByteBufferAllocator().buffer(capacity: 1024)
        for _ in benchmark.scaledIterations {
            out.clear()
            try encoder.encode(data: frame, out: &out)
            blackHole(out.readableBytes)
        }
    }

    // The server's path since issue 13: the envelope packed around the packed payload,
    // straight into the outbound buffer (what ServerConnectionHandler does per answer).
    Benchmark("Response frame: GetMeResponse packed, then ByteBuffer.writeResponseFrame") { benchmark in
        let response = Sample.response
        var out = ByteBufferAllocator().buffer(capacity: 1024)
        for _ in benchmark.scaledIterations {
            out.clear()
            response.withEncodedBytes { payload in
                out.writeResponseFrame(callID: 123_456, requestID: .generated(0xDEAD_BEEF), outcome: .success(payload))
            }
            blackHole(out.readableBytes)
        }
    }

    Benchmark("Envelope unpack: Frame(decoding:) GetMe request") { benchmark in
        let bytes = Sample.requestFrameBytes
        for _ in benchmark.scaledIterations {
            blackHole(try WireFrame(decoding: bytes))
        }
    }

    Benchmark("Envelope pack: Frame.withEncodedBytes GetMe response") { benchmark in
        let frame = Sample.responseFrame
        for _ in benchmark.scaledIterations {
            blackHole(frame.withEncodedBytes { $0.count })
        }
    }

    Benchmark("GetMeRequest unpack") { benchmark in
        let bytes = Sample.requestBytes
        for _ in benchmark.scaledIterations {
            blackHole(try WireGetMeRequest(decoding: bytes))
        }
    }

    Benchmark("GetMeRequest pack") { benchmark in
        let request = Sample.request
        for _ in benchmark.scaledIterations {
            blackHole(request.withEncodedBytes { $0.count })
        }
    }

    Benchmark("GetMeResponse unpack") { benchmark in
        let bytes = Sample.responseBytes
        for _ in benchmark.scaledIterations {
            blackHole(try WireGetMeResponse(decoding: bytes))
        }
    }

    Benchmark("GetMeResponse pack") { benchmark in
        let response = Sample.response
        for _ in benchmark.scaledIterations {
            blackHole(response.withEncodedBytes { $0.count })
        }
    }

    Benchmark("Token hash (SecretToken.hash, SHA-256) + lookup in 10^5 hashes") { benchmark in
        let sessions = Sample.sessions
        let token = Sample.token
        for _ in benchmark.scaledIterations {
            blackHole(sessions[SecretToken.hash(token)])
        }
    }
}
