public import AuthCore
public import AuthRPC
import AuthWire

/// The one place where domain errors become wire statuses: the router converts what a
/// handler throws through this conformance.
extension AuthError: RPCErrorConvertible {
    public var rpcError: RPCError {
        let status: RPCError.Code = switch code {
        case .invalidArgument: .invalidArgument
        case .unauthenticated: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .resourceExhausted: .resourceExhausted
        case .unavailable: .unavailable
        case .internal: .internal
        }
        let violations = field.map { [RPCError.FieldViolation(field: $0, description: message)] } ?? []
        let retry = retryAfter.map { UInt32(clamping: max(1, $0.wholeMilliseconds)) }
        return RPCError(code: status, message: message, fieldViolations: violations, retryAfterMilliseconds: retry)
    }
}
