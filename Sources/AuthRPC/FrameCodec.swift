public import AuthWire
public import NIOCore

/// Why a byte stream could not be cut into frames. Each ends the connection with a GOAWAY.
public enum FrameError: Error, Hashable, Sendable {
    /// The length prefix announced more than the limit; the body is not read.
    case tooLarge(length: Int, limit: Int)
    /// The bytes inside the length are not an `auth.v1.Frame`.
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

/// Cuts a stream into frames: a 4-byte big-endian length, then that many bytes of an
/// `auth.v1.Frame`. Refuses an oversize length as soon as the prefix arrives, so a
/// peer cannot make the server buffer more than `maximumFrameBytes`.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = AuthV1.Frame

    public let maximumFrameBytes: Int

    public init(maximumFrameBytes: Int) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> AuthV1.Frame? {
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
        let frame = buffer.readWithUnsafeReadableBytes { raw in
            (Int(length), Result { () throws(WireDecodingError) in
                try AuthV1.Frame(decoding: UnsafeRawBufferPointer(rebasing: raw.prefix(Int(length))))
            })
        }
        do throws(WireDecodingError) {
            return try frame.get()
        } catch {
            throw FrameError.undecodable(error)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> AuthV1.Frame? {
        // A frame cut short by EOF is dropped: there is no one left to answer.
        try decode(buffer: &buffer)
    }
}

/// Writes a frame as its 4-byte big-endian length and its protobuf bytes.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = AuthV1.Frame

    public init() {}

    public func encode(data frame: AuthV1.Frame, out: inout ByteBuffer) throws {
        frame.withEncodedBytes { bytes in
            out.reserveCapacity(minimumWritableBytes: 4 + bytes.count)
            out.writeInteger(UInt32(bytes.count))
            out.writeBytes(bytes)
        }
    }
}
