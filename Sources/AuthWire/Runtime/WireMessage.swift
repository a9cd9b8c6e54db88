/// A protobuf message of the auth.v1 wire, encoded and decoded through protobuf-c.
///
/// Conformances are generated from proto/ by tools/protoc-gen-authswift; nothing else
/// should conform. Decoding is strict: a field the message does not know, a string that is
/// not UTF-8 or holds a NUL byte (protobuf-c's C strings would cut it there), or more
/// elements than `DecodingLimits.current` allows, is an error rather than something
/// silently dropped, cut or paid for.
public protocol WireMessage: Sendable, Hashable {
    /// The message's full proto name, e.g. "auth.v1.LoginRequest".
    static var protoName: String { get }

    init()

    init(decoding bytes: UnsafeRawBufferPointer) throws(WireDecodingError)

    /// Packs the message and lends the bytes to `body`; they are only valid inside it.
    func withEncodedBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

// The decoding entry points are inlinable, so that each is specialised for its message
// where it is called: generic, they instantiated the metadata of `Result<Self, _>` on
// every call of the server's hot path.
extension WireMessage {
    @inlinable
    public init(decoding bytes: [UInt8]) throws(WireDecodingError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireDecodingError) in try Self(decoding: raw) }
        }
        self = try result.get()
    }

    /// Decodes under `limits` instead of the task's `DecodingLimits.current`.
    @inlinable
    public init(decoding bytes: UnsafeRawBufferPointer, limits: DecodingLimits) throws(WireDecodingError) {
        let previous = ThreadDecodingLimits.override(with: limits)
        defer { ThreadDecodingLimits.restore(previous) }
        try self.init(decoding: bytes)
    }

    @inlinable
    public init(decoding bytes: [UInt8], limits: DecodingLimits) throws(WireDecodingError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireDecodingError) in try Self(decoding: raw, limits: limits) }
        }
        self = try result.get()
    }

    /// Checks `bytes` as this message's encoding without decoding them: the limits and the
    /// form are enforced as a decode would, and the first string holding a NUL byte is
    /// reported (a decode refuses it), for callers that want to name it themselves.
    public static func scan(
        _ bytes: UnsafeRawBufferPointer,
        limits: DecodingLimits = .current
    ) throws(WireDecodingError) -> WireScanReport {
        let capture = ScanCapture()
        ThreadDecodingLimits.with(limits) {
            WireRuntime.$capture.withValue(capture) {
                _ = try? Self(decoding: bytes)
            }
        }
        switch capture.outcome {
        case .success(let report):
            return report
        case .failure(let detail, let field):
            throw WireDecodingError(message: protoName, detail: detail, field: field)
        case nil:
            throw WireDecodingError(message: protoName, detail: "malformed protobuf")
        }
    }

    /// The message as protobuf bytes.
    public func encoded() -> [UInt8] {
        withEncodedBytes { Array($0) }
    }
}

/// Bytes that are not a valid encoding of the expected message.
public struct WireDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The proto name of the message being decoded.
    public var message: String
    /// What was wrong, naming the field where one is to blame.
    public var detail: String
    /// The offending field's path, e.g. "attributes[name]"; empty when not one field's fault.
    public var field: String

    public init(message: String, detail: String, field: String = "") {
        self.message = message
        self.detail = detail
        self.field = field
    }

    public var description: String {
        "not a valid \(message): \(detail)"
    }

    /// The same error, reported against the top-level message being decoded.
    func `in`(_ topLevel: String) -> Self {
        var copy = self
        copy.message = topLevel
        return copy
    }
}
