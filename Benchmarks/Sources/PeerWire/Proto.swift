/// The few protobuf encodings the harness needs, written by hand (docs/protocol.md §3–4):
/// varints, length-delimited fields and nested messages. Enough to build authd's request
/// frames and the Admin calls that set a benchmark up, and to read a response's call id,
/// status code and payload.
public struct ProtoWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func tag(_ field: Int, _ wireType: UInt8) {
        varint(UInt64(field) << 3 | UInt64(wireType))
    }

    /// A varint field, omitted at its default (0) as proto3 does.
    public mutating func uint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, 0)
        varint(value)
    }

    public mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A string field, omitted when empty.
    public mutating func string(_ field: Int, _ value: String) {
        guard !value.isEmpty else { return }
        bytes(field, Array(value.utf8))
    }

    public mutating func strings(_ field: Int, _ values: [String]) {
        for value in values { bytes(field, Array(value.utf8)) }
    }

    /// A nested message (always written, even when empty: presence matters for wrappers).
    public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var nested = ProtoWriter()
        build(&nested)
        bytes(field, nested.bytes)
    }

    /// A `map<string,string>` field: one entry message per pair.
    public mutating func map(_ field: Int, _ values: [(String, String)]) {
        for (key, value) in values {
            message(field) { entry in
                entry.string(1, key)
                entry.string(2, value)
            }
        }
    }

    public static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var value = value >> 7
        while value != 0 {
            size += 1
            value >>= 7
        }
        return size
    }
}

/// Reads the fields of one protobuf message without allocating: the caller switches on
/// each field number and takes what it needs.
public struct ProtoReader: ~Copyable {
    public enum Value {
        case varint(UInt64)
        case bytes(UnsafeRawBufferPointer)
        case fixed
    }

    public struct Malformed: Error {}

    private let base: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.base = bytes
    }

    private mutating func readVarint() throws(Malformed) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < base.count, shift < 64 else { throw Malformed() }
            let byte = base[offset]
            offset += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(Malformed) -> (field: Int, value: Value)? {
        guard offset < base.count else { return nil }
        let key = try readVarint()
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            return (field, .varint(try readVarint()))
        case 2:
            let length = Int(try readVarint())
            guard length <= base.count - offset else { throw Malformed() }
            let slice = UnsafeRawBufferPointer(rebasing: base[offset..<offset + length])
            offset += length
            return (field, .bytes(slice))
        case 1:
            guard base.count - offset >= 8 else { throw Malformed() }
            offset += 8
            return (field, .fixed)
        case 5:
            guard base.count - offset >= 4 else { throw Malformed() }
            offset += 4
            return (field, .fixed)
        default:
            throw Malformed()
        }
    }
}

/// What the harness reads of a frame it receives: `auth.v1.Frame` fields 1, 2, 4 and 5.
public struct ReceivedFrame {
    public var kind: UInt64 = 0
    public var callID: UInt64 = 0
    /// `Status.code` (0 = OK; an absent status is OK too).
    public var code: UInt64 = 0
    public var message: String = ""

    public init() {}

    /// Parses `body`; `payload` is lent to the closure only while it runs.
    public static func parse(
        _ body: UnsafeRawBufferPointer,
        payload: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws(ProtoReader.Malformed) -> ReceivedFrame {
        var frame = ReceivedFrame()
        var reader = ProtoReader(body)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .varint(let kind)): frame.kind = kind
            case (2, .varint(let id)): frame.callID = id
            case (4, .bytes(let bytes)): payload(bytes)
            case (5, .bytes(let status)):
                var statusReader = ProtoReader(status)
                while let (statusField, statusValue) = try statusReader.next() {
                    switch (statusField, statusValue) {
                    case (1, .varint(let code)): frame.code = code
                    case (2, .bytes(let text)): frame.message = String(decoding: text, as: UTF8.self)
                    default: break
                    }
                }
            default: break
            }
        }
        return frame
    }
}
