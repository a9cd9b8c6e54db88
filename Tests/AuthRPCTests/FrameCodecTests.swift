@testable import AuthRPC
import AuthWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite("Frame codec")
struct FrameCodecTests {
    private func framed(_ frame: AuthV1.Frame) -> ByteBuffer {
        var buffer = ByteBuffer()
        try! FrameEncoder().encode(data: frame, out: &buffer)
        return buffer
    }

    @Test("frames survive being split at every byte and glued together")
    func decoderVerifier() throws {
        let frames = [
            AuthV1.Frame(kind: .request, callID: 1, method: "/auth.v1.Health/Check", metadata: ["x-request-id": "r1"]),
            AuthV1.Frame(kind: .request, callID: 2, method: "/auth.v1.Auth/Login", payload: Array(repeating: 7, count: 300), timeoutMs: 5),
            AuthV1.Frame(kind: .cancel, callID: 1),
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: frames.map { frame in
                let bytes = framed(frame)
                return (bytes, [ReceivedFrame(frame: frame, wireBytes: bytes.readableBytes)])
            },
            decoderFactory: { FrameDecoder(maximumFrameBytes: 1024, limits: .defaults) }
        )
    }

    @Test("an oversize length is refused as soon as the prefix arrives")
    func oversizeRefusedEarly() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameBytes: 16, limits: .defaults)))
        #expect(throws: FrameError.tooLarge(length: 17, limit: 16)) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 17]))
        }
        _ = try? channel.finish()
    }

    @Test("a response packed from its parts is byte for byte the frame the generic encoder writes", arguments: [
        (UInt64(1), RequestID.given("req-1"), Result<[UInt8], RPCError>.success([1, 2, 3])),
        (UInt64.max, RequestID.generated(0xAB), .success([])),
        (UInt64(300), RequestID.generated(.max), .success(Array(repeating: 0x5A, count: 300))),
        (UInt64(7), RequestID.given("r"), .failure(RPCError.resourceExhausted("slow down", retryAfterMilliseconds: 1500))),
        (UInt64(8), RequestID.given("r"), .failure(RPCError.invalidArgument("email is not an address", field: "email"))),
        (UInt64(9), RequestID.given(""), .failure(RPCError(code: .unauthenticated, message: ""))),
        (UInt64(10), RequestID.given("r"), .failure(RPCError(code: .unavailable, message: "", retryAfterMilliseconds: 200))),
    ])
    func packedResponse(callID: UInt64, requestID: RequestID, outcome: Result<[UInt8], RPCError>) throws {
        var packed = ByteBuffer()
        switch outcome {
        case .success(let payload):
            payload.withUnsafeBytes { packed.writeResponseFrame(callID: callID, requestID: requestID, outcome: .success($0)) }
        case .failure(let error):
            packed.writeResponseFrame(callID: callID, requestID: requestID, outcome: .failure(error))
        }
        var frame = AuthV1.Frame(kind: .response, callID: callID, metadata: [MetadataKey.requestID: requestID.description])
        switch outcome {
        case .success(let payload):
            frame.payload = payload
            frame.status = AuthV1.Status(code: .ok)
        case .failure(let error):
            frame.status = error.status
        }
        #expect(packed == framed(frame))
    }

    @Test("a made-up request id is spelt as 16 lower-case hex digits")
    func generatedRequestID() {
        #expect(RequestID.generated(0xAB).description == "00000000000000ab")
        #expect(RequestID.generated(0xFEDC_BA98_7654_3210).description == "fedcba9876543210")
    }

    @Test("the encoder writes a big-endian length before the envelope")
    func encoderLayout() {
        let frame = AuthV1.Frame(kind: .cancel, callID: 3)
        let buffer = framed(frame)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 4, 0x08, 0x03, 0x10, 0x03])
    }
}
