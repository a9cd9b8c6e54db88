#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
// protobuf-c.h's enum constants are seen through CAuthProto, whose headers include it first.
internal import CAuthProto
internal import CProtobufC

/// What a scan of a message's encoded bytes found that decoding does not tell.
public struct WireScanReport: Sendable, Hashable {
    /// The path of the first string field holding a NUL byte ("password", "attributes[name]"),
    /// which protobuf-c's C strings would silently cut; nil when there is none.
    public var firstStringWithNUL: String?
    /// Fields read, nested ones and every repeated element included.
    public var fields: Int
}

/// Walks encoded protobuf by protobuf-c's runtime descriptors before `__unpack` runs, so
/// that what would be expensive to unpack (millions of tiny repeated elements, fields the
/// message does not have) is refused for the cost of reading the tags.
///
/// It checks what protobuf-c would check too (tags, wire types, lengths) and what it would
/// not: element counts against `DecodingLimits`, unknown fields (strict decoding), and NUL
/// bytes in strings. Sub-messages are scanned by their own descriptors; map entries are
/// repeated sub-messages and count as elements.
struct WireScanner {
    enum Failure: Error {
        /// protobuf-c would refuse these bytes too.
        case malformed
        /// Well-formed, but over a limit, an unknown field, or a NUL in a string.
        case refused(detail: String, field: String)
    }

    /// Deeper than any auth.v1 message nests; a guard for the recursion, not a tunable limit.
    static let maximumDepth = 32

    private let limits: DecodingLimits
    private let refusesNUL: Bool
    private(set) var fields = 0
    private(set) var firstStringWithNUL: String?
    /// Where the scan is, kept only below sub-messages and rendered only for a report.
    private var path: [PathElement] = []

    private enum PathElement {
        case field(UnsafePointer<CChar>)
        case index(Int)
        /// A map value, named by its entry's key.
        case key(UnsafeRawBufferPointer)
    }

    /// With `refusesNUL` a string holding NUL is a failure; without, only reported.
    init(limits: DecodingLimits, refusesNUL: Bool) {
        self.limits = limits
        self.refusesNUL = refusesNUL
    }

    mutating func scan(_ bytes: UnsafeRawBufferPointer, as descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(Failure) {
        try scanMessage(bytes, descriptor, depth: 0, isMapEntry: false)
    }

    private mutating func scanMessage(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        depth: Int,
        isMapEntry: Bool
    ) throws(Failure) {
        guard depth < Self.maximumDepth else {
            throw .refused(detail: "messages nested more than \(Self.maximumDepth) deep", field: renderedPath())
        }
        // Per-field counts on the stack: a scan allocates nothing for a flat message.
        try withUnsafeTemporaryAllocation(of: Int.self, capacity: max(Int(descriptor.pointee.n_fields), 1)) {
            (counts) throws(Failure) in
            counts.initialize(repeating: 0)
            try scanFields(bytes, descriptor, counts: counts, depth: depth, isMapEntry: isMapEntry)
        }
    }

    private mutating func scanFields(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        counts counters: UnsafeMutableBufferPointer<Int>,
        depth: Int,
        isMapEntry: Bool
    ) throws(Failure) {
        let mapKey = isMapEntry ? try Self.lastKey(in: bytes) : UnsafeRawBufferPointer(start: nil, count: 0)

        var offset = 0
        while offset < bytes.count {
            let tag = try Self.readTag(bytes, &offset)
            let number = UInt32(truncatingIfNeeded: tag >> 3)
            let wireType = UInt8(tag & 7)
            guard number != 0 else { throw .malformed }

            let body: UnsafeRawBufferPointer?
            switch wireType {
            case 0:
                _ = try Self.readVarint(bytes, &offset)
                body = nil
            case 1, 5:
                let width = wireType == 1 ? 8 : 4
                guard bytes.count - offset >= width else { throw .malformed }
                offset += width
                body = nil
            case 2:
                let length = try Self.readVarint(bytes, &offset)
                guard length <= UInt64(bytes.count - offset) else { throw .malformed }
                body = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(length)])
                offset += Int(length)
            default:
                throw .malformed  // groups (3, 4) and undefined wire types
            }

            guard let field = protobuf_c_message_descriptor_get_field(descriptor, number) else {
                let name = String(cString: descriptor.pointee.name)
                let at = renderedPath()
                throw .refused(detail: "unknown field number \(number) in \(name)\(at.isEmpty ? "" : " (at \(at))")", field: at)
            }
            let repeated = field.pointee.label == PROTOBUF_C_LABEL_REPEATED
            let type = field.pointee.type
            var elements = 1
            if wireType != Self.wireType(of: type) {
                // protobuf-c reads a repeated scalar field packed or not, whatever the .proto says.
                guard repeated, wireType == 2, let body, let packed = Self.packedCount(body, type) else {
                    throw .malformed
                }
                elements = packed
            }

            let entries = isMapEntryField(field)
            let slot = field - descriptor.pointee.fields
            counters[slot] += elements
            fields += elements
            if counters[slot] > limits.maximumElements {
                path.append(.field(field.pointee.name))
                defer { path.removeLast() }
                let limit = limits.maximumElements
                let what = !repeated ? "appears more than \(limit) times" : "has more than \(limit) \(entries ? "entries" : "elements")"
                throw .refused(detail: "field \(renderedPath()) \(what) (the limit)", field: renderedPath())
            }
            if fields > limits.maximumFields {
                throw .refused(detail: "message has more than \(limits.maximumFields) fields (the limit)", field: "")
            }
            guard let body, type == PROTOBUF_C_TYPE_STRING || type == PROTOBUF_C_TYPE_MESSAGE else { continue }
            if type == PROTOBUF_C_TYPE_STRING {
                guard let base = body.baseAddress, memchr(base, 0, body.count) != nil else { continue }
            }

            // Only now is the path needed: below a sub-message, or to name a string holding NUL.
            let mark = path.count
            defer { path.removeLast(path.count - mark) }
            if isMapEntry, field.pointee.id == 2 {
                path.append(.key(mapKey))
            } else {
                path.append(.field(field.pointee.name))
                if repeated && !entries {
                    path.append(.index(counters[slot] - 1))
                }
            }
            if type == PROTOBUF_C_TYPE_STRING {
                let at = renderedPath()
                if refusesNUL {
                    throw .refused(detail: "field \(at) contains a NUL byte", field: at)
                }
                if firstStringWithNUL == nil { firstStringWithNUL = at }
            } else {
                let nested = field.pointee.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                try scanMessage(body, nested, depth: depth + 1, isMapEntry: entries)
            }
        }
    }

    /// protoc-c writes `map<K, V>` as a repeated message `…Entry` of fields key = 1, value = 2.
    private func isMapEntryField(_ field: UnsafePointer<ProtobufCFieldDescriptor>) -> Bool {
        guard field.pointee.label == PROTOBUF_C_LABEL_REPEATED, field.pointee.type == PROTOBUF_C_TYPE_MESSAGE,
            let raw = field.pointee.descriptor
        else { return false }
        let entry = raw.assumingMemoryBound(to: ProtobufCMessageDescriptor.self).pointee
        guard entry.n_fields == 2, let fields = entry.fields else { return false }
        return fields[0].id == 1 && strcmp(fields[0].name, "key") == 0
            && fields[1].id == 2 && strcmp(fields[1].name, "value") == 0
            && Self.hasEntrySuffix(entry.short_name)
    }

    private static func hasEntrySuffix(_ name: UnsafePointer<CChar>) -> Bool {
        let length = strlen(name)
        return length >= 5 && strcmp(name + (length - 5), "Entry") == 0
    }

    /// "metadata[x-request-id]", "field_violations[0].field", "attributes.key".
    private func renderedPath() -> String {
        var rendered = ""
        for element in path {
            switch element {
            case .field(let name):
                if !rendered.isEmpty { rendered += "." }
                rendered += String(cString: name)
            case .index(let index):
                rendered += "[\(index)]"
            case .key(let key):
                // A key is the peer's text: keep the path short and printable.
                let text = String(decoding: key.prefix(64), as: UTF8.self).replacingNUL()
                rendered += "[\(text)\(key.count > 64 ? "…" : "")]"
            }
        }
        return rendered
    }

    /// The bytes of a map entry's last `key` (protobuf: the last one wins); empty when absent.
    private static func lastKey(in entry: UnsafeRawBufferPointer) throws(Failure) -> UnsafeRawBufferPointer {
        var key = UnsafeRawBufferPointer(start: nil, count: 0)
        var offset = 0
        while offset < entry.count {
            let tag = try readTag(entry, &offset)
            switch tag & 7 {
            case 0: _ = try readVarint(entry, &offset)
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                let length = try readVarint(entry, &offset)
                guard length <= UInt64(entry.count - offset) else { throw .malformed }
                if tag >> 3 == 1 {
                    key = UnsafeRawBufferPointer(rebasing: entry[offset..<offset + Int(length)])
                }
                offset += Int(length)
            default: throw .malformed
            }
            guard offset <= entry.count else { throw .malformed }
        }
        return key
    }

    private static func wireType(of type: ProtobufCType) -> UInt8 {
        switch type {
        case PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_DOUBLE: 1
        case PROTOBUF_C_TYPE_SFIXED32, PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_FLOAT: 5
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BYTES, PROTOBUF_C_TYPE_MESSAGE: 2
        default: 0
        }
    }

    /// Elements in a packed repeated scalar, or nil when `type` cannot be packed or the
    /// bytes do not divide into its elements.
    private static func packedCount(_ body: UnsafeRawBufferPointer, _ type: ProtobufCType) -> Int? {
        switch wireType(of: type) {
        case 0:
            guard body.last.map({ $0 & 0x80 == 0 }) ?? true else { return nil }
            var count = 0
            for byte in body where byte & 0x80 == 0 { count += 1 }
            return count
        case 1: return body.count % 8 == 0 ? body.count / 8 : nil
        case 5: return body.count % 4 == 0 ? body.count / 4 : nil
        default: return nil
        }
    }

    /// A tag as protobuf-c reads it: at most 5 bytes, a 32-bit value.
    private static func readTag(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws(Failure) -> UInt64 {
        let start = offset
        let value = try readVarint(bytes, &offset)
        guard offset - start <= 5, value <= UInt64(UInt32.max) else { throw .malformed }
        return value
    }

    private static func readVarint(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            if shift < 64 {
                value |= UInt64(byte & 0x7F) << shift
            }
            if byte & 0x80 == 0 {
                return value
            }
            shift += 7
            guard shift < 70 else { throw .malformed }  // more than 10 bytes
        }
        throw .malformed
    }
}

extension String {
    fileprivate func replacingNUL() -> String {
        contains("\u{0}") ? String(unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : Character($0) }) : self
    }
}
