import AuthWire

/// Maps method names ("/auth.v1.Auth/Login") to handlers. Built once at start-up,
/// then read concurrently by every connection.
public struct Router: Sendable {
    private var methods: [String: RegisteredMethod] = [:]

    public init() {}

    /// Routes `descriptor` to `handler`. Registering a method twice is a programming error.
    public mutating func register<Request, Response>(
        _ descriptor: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, CallContext) async throws(RPCError) -> Response
    ) {
        precondition(methods[descriptor.path] == nil, "\(descriptor.path) registered twice")
        methods[descriptor.path] = RegisteredMethod { payload, context in
            let request: Request
            do throws(WireDecodingError) {
                request = try Request(decoding: payload)
            } catch {
                return .failure(
                    RPCError(
                        code: .invalidArgument,
                        message: "payload of \(descriptor.path) is \(error.description)",
                        fieldViolations: error.field.isEmpty ? [] : [FieldViolation(field: error.field, description: error.detail)]
                    )
                )
            }
            do throws(RPCError) {
                return .success(try await handler(request, context).encoded())
            } catch {
                return .failure(error)
            }
        }
    }

    /// Runs `check` before every method of `service` registered so far, before the request
    /// is even decoded: where API keys are checked. Call it after registering the service.
    public mutating func intercept(
        service: String,
        _ check: @escaping @Sendable (CallContext) async throws(RPCError) -> Void
    ) {
        for (path, method) in methods where path.hasPrefix("/\(service)/") {
            methods[path] = RegisteredMethod { payload, context in
                do throws(RPCError) {
                    try await check(context)
                } catch {
                    return .failure(error)
                }
                return await method.handle(payload, context)
            }
        }
    }

    /// Services with at least one routed method ("auth.v1.Health").
    public var serviceNames: Set<String> {
        Set(methods.keys.compactMap { path in path.split(separator: "/").first.map(String.init) })
    }

    func method(named name: String) -> RegisteredMethod? {
        methods[name]
    }
}

/// A handler with its request and response types erased to bytes.
struct RegisteredMethod: Sendable {
    let handle: @Sendable ([UInt8], CallContext) async -> Result<[UInt8], RPCError>
}
