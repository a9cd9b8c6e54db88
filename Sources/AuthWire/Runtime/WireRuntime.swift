internal import CProtobufC

/// Helpers the generated code calls; not API.
enum WireRuntime {
    // Never written: protobuf-c only reads through it, and reads nothing for empty input.
    nonisolated(unsafe) private static let emptyInput: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)

    /// Calls protoc-c's unpack with a non-null base even for empty input.
    static func withBase<T>(
        _ bytes: UnsafeRawBufferPointer,
        _ unpack: (UnsafePointer<UInt8>, Int) -> UnsafeMutablePointer<T>?
    ) -> UnsafeMutablePointer<T>? {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return unpack(emptyInput, 0)
        }
        return unpack(base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    static func refuseUnknownFields(
        _ base: UnsafePointer<ProtobufCMessage>,
        message: String,
        path: String
    ) throws(WireDecodingError) {
        let count = base.pointee.n_unknown_fields
        guard count > 0 else { return }
        let tag = base.pointee.unknown_fields[0].tag
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
}
