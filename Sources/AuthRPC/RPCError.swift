public import AuthWire

/// The outcome of a call that did not succeed: a gRPC status code and a message
/// that says what was wrong and where.
///
/// Services throw it, the transport puts it on the wire as a `Status`, and clients
/// get it back as they were thrown. It is the one error type that crosses the wire.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// gRPC's status codes, as `auth.v1.Code` carries them.
    public typealias Code = AuthV1.Code
    /// A request field at fault and what is wrong with it.
    public typealias FieldViolation = AuthV1.FieldViolation

    public var code: Code
    public var message: String
    /// Per-field problems of an INVALID_ARGUMENT, for clients that show errors next to fields.
    public var fieldViolations: [FieldViolation]
    /// With RESOURCE_EXHAUSTED: how long to wait before trying again.
    public var retryAfterMilliseconds: UInt32?

    public init(
        code: Code,
        message: String,
        fieldViolations: [FieldViolation] = [],
        retryAfterMilliseconds: UInt32? = nil
    ) {
        precondition(code != .ok, "an RPCError cannot carry OK")
        self.code = code
        self.message = message
        self.fieldViolations = fieldViolations
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    /// Rebuilds the error a peer put on the wire.
    public init(status: AuthV1.Status) {
        self.init(
            code: status.code == .ok ? .unknown : status.code,
            message: status.message,
            fieldViolations: status.fieldViolations,
            retryAfterMilliseconds: status.retryAfterMs == 0 ? nil : status.retryAfterMs
        )
    }

    /// The error as it goes on the wire.
    public var status: AuthV1.Status {
        AuthV1.Status(code: code, message: message, fieldViolations: fieldViolations, retryAfterMs: retryAfterMilliseconds ?? 0)
    }

    public var description: String {
        "\(code): \(message)"
    }
}

extension RPCError {
    public static func invalidArgument(_ message: String, field: String? = nil) -> Self {
        let violations = field.map { [FieldViolation(field: $0, description: message)] } ?? []
        return Self(code: .invalidArgument, message: message, fieldViolations: violations)
    }

    public static func unavailable(_ message: String) -> Self {
        Self(code: .unavailable, message: message)
    }

    public static func deadlineExceeded(_ message: String) -> Self {
        Self(code: .deadlineExceeded, message: message)
    }

    public static func internalError(_ message: String) -> Self {
        Self(code: .internal, message: message)
    }

    public static func unimplemented(_ message: String) -> Self {
        Self(code: .unimplemented, message: message)
    }

    public static func notFound(_ message: String) -> Self {
        Self(code: .notFound, message: message)
    }

    public static func resourceExhausted(_ message: String, retryAfterMilliseconds: UInt32? = nil) -> Self {
        Self(code: .resourceExhausted, message: message, retryAfterMilliseconds: retryAfterMilliseconds)
    }
}
