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

/// Helpers the generated code calls; not API.
enum WireRuntime {
    // Never written: protobuf-c only reads through it, and reads nothing for empty input.
    nonisolated(unsafe) private static let emptyInput: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)

    /// Set by `WireMessage.scan`: the decode stops after the scan and leaves its findings here.
    @TaskLocal static var capture: ScanCapture?

    /// Every generated `init(decoding:)` unpacks through here, so this is where the bytes are
    /// scanned (`WireScanner`) before protobuf-c allocates anything.
    ///
    /// Malformed bytes give nil, as protobuf-c would. A refusal (a limit, an unknown field,
    /// a NUL in a string) gives a stand-in: an empty message carrying the refusal as an
    /// unknown field of number 0, which protobuf never writes. The generated code reports
    /// it through `refuseUnknownFields`, the first throwing call it makes on the message,
    /// and frees it like any other. `descriptor` is protoc-c's for `T`: the generated code
    /// passes it, so that a decode looks nothing up.
    static func withBase<T>(
        _ bytes: UnsafeRawBufferPointer,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        _ unpack: (UnsafePointer<UInt8>, Int) -> UnsafeMutablePointer<T>?
    ) -> UnsafeMutablePointer<T>? {
        let input = bytes.count > 0 ? bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) : UnsafePointer(emptyInput)
        let capture = Self.capture
        var scanner = WireScanner(limits: ThreadDecodingLimits.effective, refusesNUL: capture == nil)
        do {
            try scanner.scan(bytes, as: descriptor)
        } catch {
            switch error {
            case .malformed:
                capture?.outcome = .failure(detail: "malformed protobuf", field: "")
                return nil
            case .refused(let detail, let field):
                if let capture {
                    capture.outcome = .failure(detail: detail, field: field)
                    return nil
                }
                return standIn(refusing: detail, field: field, unpack)
            }
        }
        if let capture {
            capture.outcome = .success(WireScanReport(firstStringWithNUL: scanner.firstStringWithNUL, fields: scanner.fields))
            return nil
        }
        return unpack(input, bytes.count)
    }

    static func refuseUnknownFields(
        _ base: UnsafePointer<ProtobufCMessage>,
        message: String,
        path: String
    ) throws(WireDecodingError) {
        let count = base.pointee.n_unknown_fields
        guard count > 0 else { return }
        let unknown = base.pointee.unknown_fields[0]
        if unknown.tag == 0, let refusal = refusal(in: unknown) {
            throw WireDecodingError(message: message, detail: refusal.detail, field: refusal.field)
        }
        let tag = unknown.tag
        let field = path.hasSuffix(".") ? String(path.dropLast()) : path
        let location = field.isEmpty ? "" : " (at \(field))"
        throw WireDecodingError(
            message: message,
            detail: "unknown field number \(tag) in \(message)\(location)",
            field: field
        )
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?, field: String) throws(WireDecodingError) -> String {
        guard let pointer else { return "" }
        guard let string = String(validatingCString: pointer) else {
            throw WireDecodingError(message: "", detail: "field \(field) is not valid UTF-8", field: field)
        }
        return string
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    // MARK: Stand-ins

    /// An empty `T` whose one unknown field (number 0) holds the refusal: a 4-byte length of
    /// the field path, the path, then the detail. protobuf-c frees it with the message
    /// (its default allocator is malloc and free).
    private static func standIn<T>(
        refusing detail: String,
        field: String,
        _ unpack: (UnsafePointer<UInt8>, Int) -> UnsafeMutablePointer<T>?
    ) -> UnsafeMutablePointer<T>? {
        guard let standIn = unpack(emptyInput, 0) else { return nil }
        let fieldBytes = Array(field.utf8)
        var text = withUnsafeBytes(of: UInt32(fieldBytes.count).bigEndian, Array.init)
        text += fieldBytes
        text += Array(detail.utf8)
        guard let data = malloc(text.count), let entry = malloc(MemoryLayout<ProtobufCMessageUnknownField>.stride) else {
            fatalError("out of memory")
        }
        text.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let unknown = entry.bindMemory(to: ProtobufCMessageUnknownField.self, capacity: 1)
        unknown.initialize(
            to: ProtobufCMessageUnknownField(
                tag: 0,
                wire_type: PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                len: text.count,
                data: data.assumingMemoryBound(to: UInt8.self)
            )
        )
        let message = UnsafeMutableRawPointer(standIn).assumingMemoryBound(to: ProtobufCMessage.self)
        message.pointee.n_unknown_fields = 1
        message.pointee.unknown_fields = unknown
        return standIn
    }

    private static func refusal(in unknown: ProtobufCMessageUnknownField) -> (field: String, detail: String)? {
        guard unknown.len >= 4, let data = unknown.data else { return nil }
        let bytes = UnsafeBufferPointer(start: data, count: unknown.len)
        let fieldLength = bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard fieldLength <= unknown.len - 4 else { return nil }
        let field = String(decoding: bytes[4..<4 + fieldLength], as: UTF8.self)
        let detail = String(decoding: bytes[(4 + fieldLength)...], as: UTF8.self)
        return (field, detail)
    }
}

/// Where `WireMessage.scan` gets the scan's findings back from inside the decode it starts.
/// One owner: the synchronous `scan` call that creates it.
final class ScanCapture: @unchecked Sendable {
    enum Outcome {
        case success(WireScanReport)
        case failure(detail: String, field: String)
    }

    var outcome: Outcome?
}
