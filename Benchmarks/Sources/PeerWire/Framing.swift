public import NIOCore

/// Cuts a stream into frame bodies: a 4-byte big-endian length, then that many bytes
/// (the framing of docs/protocol.md §2). The body is a slice of the read buffer, not a copy.
public struct FrameSlicer: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct TooLarge: Error {
        public let length: Int
    }

    public let maximumFrameBytes: Int

    public init(maximumFrameBytes: Int = 4 << 20) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= maximumFrameBytes else { throw TooLarge(length: Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}

/// One request frame, encoded once, of which only the call id changes from call to call:
/// `kind` = REQUEST, `call_id`, `method`, `payload`, with no metadata and no deadline.
public struct RequestTemplate: Sendable {
    public let method: String
    public let payload: [UInt8]
    /// Everything after `call_id`: fields 3 and 4.
    private let tail: [UInt8]

    public init(method: String, payload: [UInt8]) {
        self.method = method
        self.payload = payload
        var writer = ProtoWriter()
        writer.string(3, method)
        writer.bytes(4, payload)
        self.tail = writer.bytes
    }

    /// The frame body's size for `callID` (without the 4-byte prefix).
    public func bodySize(callID: UInt64) -> Int {
        3 + ProtoWriter.varintSize(callID) + tail.count
    }

    /// Writes the length prefix and the frame for `callID`.
    public func write(callID: UInt64, into buffer: inout ByteBuffer) {
        let size = bodySize(callID: callID)
        buffer.reserveCapacity(minimumWritableBytes: 4 + size)
        buffer.writeInteger(UInt32(size))
        buffer.writeInteger(UInt16(0x0801))  // field 1 (kind), varint, 1 = REQUEST
        buffer.writeInteger(UInt8(0x10))  // field 2 (call_id), varint
        var value = callID
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
        buffer.writeBytes(tail)
    }

    /// The whole frame for `callID`, prefix included.
    public func frame(callID: UInt64) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 4 + bodySize(callID: callID))
        write(callID: callID, into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}
