import AuthCore
import AuthRPC
import AuthWire

/// The one place where domain errors become wire statuses.
extension RPCError {
    init(_ error: AuthError) {
        let code: Code = switch error.code {
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
        let violations = error.field.map { [FieldViolation(field: $0, description: error.message)] } ?? []
        let retry = error.retryAfter.map { UInt32(clamping: max(1, $0.wholeMilliseconds)) }
        self.init(code: code, message: error.message, fieldViolations: violations, retryAfterMilliseconds: retry)
    }
}

/// Runs domain code and reports its errors as wire statuses.
func mappingErrors<T>(_ body: () async throws(AuthError) -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch {
        throw RPCError(error)
    }
}
