import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Health`, as grpc.health.v1 defines Check: the server as a whole ("") and
/// each service it routes are SERVING until shutdown begins; other names are NOT_FOUND.
struct HealthHandler: HealthService.Handler {
    let services: Set<String>
    let state: ServingState

    func check(_ request: AuthV1.HealthCheckRequest, context: CallContext) async throws -> AuthV1.HealthCheckResponse {
        try answer(request)
    }

    /// Check needs nothing but memory: it is always answered on the event loop, with one of
    /// the two answers encoded once.
    func registerAnswersFromMemory(on router: inout Router) {
        router.answerFromMemory(HealthService.Method.check, encoded: { request, _ in
            try self.status(request) == .serving ? Self.serving : Self.notServing
        })
    }

    private static let serving = AuthV1.HealthCheckResponse(status: .serving).encoded()
    private static let notServing = AuthV1.HealthCheckResponse(status: .notServing).encoded()

    private func answer(_ request: AuthV1.HealthCheckRequest) throws(AuthError) -> AuthV1.HealthCheckResponse {
        AuthV1.HealthCheckResponse(status: try status(request))
    }

    private func status(_ request: AuthV1.HealthCheckRequest) throws(AuthError) -> AuthV1.HealthCheckResponse.ServingStatus {
        guard request.service.isEmpty || services.contains(request.service) else {
            throw AuthError(.notFound, "service '\(request.service)' is not served here; served: \(services.sorted().joined(separator: ", "))")
        }
        return state.isDraining ? .notServing : .serving
    }
}
