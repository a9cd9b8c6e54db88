/// Why a domain operation refused. The RPC edge maps `code` to the gRPC status of
/// the same name; `message` goes to the caller as it is, so it says what was wrong
/// and where, and never leaks a secret or whether an account exists.
public struct AuthError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case invalidArgument
        case unauthenticated
        case permissionDenied
        case notFound
        case alreadyExists
        case failedPrecondition
        case resourceExhausted
        case unavailable
        case `internal`
    }

    public var code: Code
    public var message: String
    /// The request field at fault ("email", "attributes[name]"), when one is.
    public var field: String?
    /// With resourceExhausted: when trying again makes sense.
    public var retryAfter: Duration?

    public init(_ code: Code, _ message: String, field: String? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    public var description: String {
        "\(code.rawValue): \(message)"
    }

    public static func invalidArgument(_ message: String, field: String) -> Self {
        Self(.invalidArgument, message, field: field)
    }

    /// The one answer for every failed credential check, so that it reveals nothing.
    public static let invalidCredentials = Self(.unauthenticated, "email or password is wrong")

    /// The one answer for a token that is unknown, expired, revoked, or whose user is blocked or deleted.
    public static let invalidSession = Self(.unauthenticated, "session is invalid or has expired; sign in again")

    public static func storage(_ message: String) -> Self {
        Self(.internal, "storage failed: \(message)")
    }
}
