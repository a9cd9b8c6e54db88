import AuthRPC
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

    @Test("the encoder writes a big-endian length before the envelope")
    func encoderLayout() {
        let frame = AuthV1.Frame(kind: .cancel, callID: 3)
        let buffer = framed(frame)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 4, 0x08, 0x03, 0x10, 0x03])
    }
}
