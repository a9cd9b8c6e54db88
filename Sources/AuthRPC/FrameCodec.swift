public import AuthWire
public import NIOCore

/// Why a byte stream could not be cut into frames. Each ends the connection with a GOAWAY.
public enum FrameError: Error, Hashable, Sendable {
    /// The length prefix announced more than the limit; the body is not read.
    case tooLarge(length: Int, limit: Int)
    /// The bytes inside the length are not an `auth.v1.Frame` (or exceed its decoding limits).
    case undecodable(WireDecodingError)

    /// How the server reports it before closing.
    var status: RPCError {
        switch self {
        case .tooLarge(let length, let limit):
            RPCError.resourceExhausted("frame of \(length) bytes exceeds the limit of \(limit) bytes")
        case .undecodable(let error):
            RPCError.invalidArgument("frame is \(error.description)")
        }
    }
}

/// A frame as it came off the wire, with the bytes it took there (the prefix included):
/// the server counts those against its read budget until the frame's call is answered.
public struct ReceivedFrame: Sendable, Hashable {
    public var frame: AuthV1.Frame
    public var wireBytes: Int

    public init(frame: AuthV1.Frame, wireBytes: Int) {
        self.frame = frame
        self.wireBytes = wireBytes
    }
}

/// Cuts a stream into frames: a 4-byte big-endian length, then that many bytes of an
/// `auth.v1.Frame`. Refuses an oversize length as soon as the prefix arrives, so a
/// peer cannot make the server buffer more than `maximumFrameBytes`; decodes the envelope
/// under `limits`, so its metadata cannot cost more than they allow.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ReceivedFrame

    /// A buffer at least this large that holds little after a frame is copied small again,
    /// so a connection does not keep the storage of its largest frame.
    static let compactionThreshold = 64 * 1024

    public let maximumFrameBytes: Int
    public let limits: DecodingLimits

    public init(maximumFrameBytes: Int, limits: DecodingLimits) {
        self.maximumFrameBytes = maximumFrameBytes
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws(FrameError) -> ReceivedFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return nil
        }
        guard length <= maximumFrameBytes else {
            throw FrameError.tooLarge(length: Int(length), limit: maximumFrameBytes)
        }
        guard buffer.readableBytes >= 4 + Int(length) else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: 4)
        let limits = self.limits
        let frame = buffer.readWithUnsafeReadableBytes { raw in
            (Int(length), Result { () throws(WireDecodingError) in
                try AuthV1.Frame(decoding: UnsafeRawBufferPointer(rebasing: raw.prefix(Int(length))), limits: limits)
            })
        }
        if buffer.capacity >= Self.compactionThreshold, buffer.readableBytes > 0, buffer.readableBytes <= buffer.capacity / 4 {
            var compact = ByteBuffer()
            compact.writeImmutableBuffer(buffer)
            buffer = compact
        }
        do throws(WireDecodingError) {
            return ReceivedFrame(frame: try frame.get(), wireBytes: 4 + Int(length))
        } catch {
            throw FrameError.undecodable(error)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ReceivedFrame? {
        // A frame cut short by EOF is dropped: there is no one left to answer.
        try decode(buffer: &buffer)
    }
}

/// Writes a frame as its 4-byte big-endian length and its protobuf bytes.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = AuthV1.Frame

    public init() {}

    public func encode(data frame: AuthV1.Frame, out: inout ByteBuffer) throws {
        out.writeFrame(frame)
    }
}

extension ByteBuffer {
    /// Appends `frame` as its 4-byte big-endian length and its protobuf bytes.
    public mutating func writeFrame(_ frame: AuthV1.Frame) {
        frame.withEncodedBytes { bytes in
            reserveCapacity(minimumWritableBytes: 4 + bytes.count)
            writeInteger(UInt32(bytes.count))
            writeBytes(bytes)
        }
    }

    /// Appends the RESPONSE frame of a call: its outcome's payload, or its error's status,
    /// and the request id. Packed straight into this buffer (`Frame.packResponse`).
    public mutating func writeResponseFrame(callID: UInt64, requestID: RequestID, outcome: Result<UnsafeRawBufferPointer, RPCError>) {
        let status: AuthV1.Status
        let payload: UnsafeRawBufferPointer
        switch outcome {
        case .success(let bytes):
            status = AuthV1.Status(code: .ok)
            payload = bytes
        case .failure(let error):
            status = error.status
            payload = UnsafeRawBufferPointer(start: nil, count: 0)
        }
        requestID.withUTF8 { id in
            AuthV1.Frame.packResponse(
                callID: callID, metadataKey: MetadataKey.requestID, metadataValue: id, status: status, payload: payload
            ) { size, pack in
                reserveCapacity(minimumWritableBytes: 4 + size)
                writeInteger(UInt32(size))
                let written = writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pack($0.baseAddress!) }
                precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
            }
        }
    }
}
