public import AuthWire

/// Who may call a service's methods. Checked at dispatch, before the request is
/// decoded, for every method of the service, also one added later.
public enum ServiceAccess: Sendable {
    /// Anyone: health checks, and the end-user flows whose own tokens authenticate them.
    case open
    /// Only a call that `check` lets through (an API key of the right scope, say). What
    /// `check` returns names the caller (the key's id) in `CallContext.caller` and in the
    /// call's log lines.
    case guarded(@Sendable (CallContext) async throws(RPCError) -> String?)
}

/// Maps method names ("/auth.v1.Auth/Login") to handlers. Built once at start-up,
/// then read concurrently by every connection.
///
/// Every service needs an access rule (`setAccess(_:for:)`): a method of a service
/// without one is refused at dispatch, so that forgetting the rule denies rather than
/// opens.
public struct Router: Sendable {
    private struct Route: Sendable {
        let service: String
        let handle: Handle
        var answerAtOnce: AnswerAtOnce?
    }

    private var routes: [String: Route] = [:]
    private var access: [String: ServiceAccess] = [:]
    /// Every route with its service's access rule applied, rebuilt on each change so
    /// that dispatch is one lookup.
    private var dispatch: [String: RegisteredMethod] = [:]

    public init() {}

    /// Routes `descriptor` to `handler`. Registering a method twice is a programming error.
    /// What `handler` throws is converted by `RPCError(converting:method:)`.
    public mutating func register<Request, Response>(
        _ descriptor: MethodDescriptor<Request, Response>,
        handler: @escaping @Sendable (Request, CallContext) async throws -> Response
    ) {
        let path = descriptor.path
        precondition(routes[path] == nil, "\(path) registered twice")
        routes[path] = Route(service: descriptor.service) { payload, limits, context in
            let request: Request
            switch Self.decode(Request.self, payload, limits: limits, path: path) {
            case .success(let decoded): request = decoded
            case .failure(let error): return .failure(error)
            }
            do {
                return .success(try await handler(request, context).encoded())
            } catch {
                return .failure(RPCError(converting: error, method: path))
            }
        }
        dispatch[path] = resolve(path)
    }

    /// Gives a registered method of an open service an answer from memory: tried on the
    /// connection's event loop before a task is started for the handler, so that a call
    /// it answers costs no thread hop. It must not block or wait; nil hands the call to
    /// the handler. Small requests only (`ServerConfiguration.maximumInlineRequestBytes`),
    /// so that decoding on the event loop cannot delay other connections.
    ///
    /// Inlinable, so that the closure is built specialised for the caller's concrete
    /// types: a generic one looked up their metadata on every call.
    @inlinable
    public mutating func answerFromMemory<Request, Response>(
        _ descriptor: MethodDescriptor<Request, Response>,
        _ answer: @escaping @Sendable (Request, CallContext) throws -> Response?
    ) {
        // Packed once, and lent to the connection that packs its frame around it.
        answerFromMemory(descriptor.path, answer) { response, lend in response.withEncodedBytes(lend) }
    }

    /// `answerFromMemory` for an answer that is already encoded (a `Response`'s bytes kept
    /// from an earlier call): lent to the connection as they are.
    @inlinable
    public mutating func answerFromMemory<Request, Response>(
        _ descriptor: MethodDescriptor<Request, Response>,
        encoded answer: @escaping @Sendable (Request, CallContext) throws -> [UInt8]?
    ) {
        answerFromMemory(descriptor.path, answer) { bytes, lend in bytes.withUnsafeBytes(lend) }
    }

    @inlinable
    mutating func answerFromMemory<Request: WireMessage, Answer>(
        _ path: String,
        _ answer: @escaping @Sendable (Request, CallContext) throws -> Answer?,
        lending lendBytes: @escaping @Sendable (Answer, (UnsafeRawBufferPointer) -> Void) -> Void
    ) {
        setAnswerAtOnce(for: path) { payload, limits, context, respond in
            let request: Request
            switch Self.decode(Request.self, payload, limits: limits, path: path) {
            case .success(let decoded): request = decoded
            case .failure(let error):
                respond(.failure(error))
                return true
            }
            let response: Answer?
            do {
                response = try answer(request, context)
            } catch {
                respond(.failure(RPCError(converting: error, method: path)))
                return true
            }
            guard let response else { return false }
            lendBytes(response) { respond(.success($0)) }
            return true
        }
    }

    @usableFromInline
    mutating func setAnswerAtOnce(for path: String, _ answer: @escaping AnswerAtOnce) {
        precondition(routes[path] != nil, "\(path): register the handler before its answer from memory")
        routes[path]?.answerAtOnce = answer
        dispatch[path] = resolve(path)
    }

    /// Decodes under the method's `limits` (`ServerConfiguration.requestLimits(for:)`).
    /// No bytes are the message with every field at its default (proto3), built without
    /// protobuf-c: a health check's request is empty.
    @inlinable
    static func decode<Request: WireMessage>(
        _: Request.Type, _ payload: [UInt8], limits: DecodingLimits, path: String
    ) -> Result<Request, RPCError> {
        if payload.isEmpty { return .success(Request()) }
        do throws(WireDecodingError) {
            return .success(try Request(decoding: payload, limits: limits))
        } catch {
            return .failure(invalidPayload(error, path: path))
        }
    }

    /// INVALID_ARGUMENT naming the method and, where the decoder knows it, the field.
    @usableFromInline
    static func invalidPayload(_ error: WireDecodingError, path: String) -> RPCError {
        RPCError(
            code: .invalidArgument,
            message: "payload of \(path) is \(error.description)",
            fieldViolations: error.field.isEmpty ? [] : [RPCError.FieldViolation(field: error.field, description: error.detail)]
        )
    }

    /// Sets who may call the methods of `service` ("auth.v1.Admin"), registered or not yet.
    public mutating func setAccess(_ rule: ServiceAccess, for service: String) {
        access[service] = rule
        for (path, route) in routes where route.service == service {
            dispatch[path] = resolve(path)
        }
    }

    /// Every routed method ("/auth.v1.Auth/Login").
    public var methodNames: [String] {
        routes.keys.sorted()
    }

    /// Services with at least one routed method ("auth.v1.Health").
    public var serviceNames: Set<String> {
        Set(routes.values.map(\.service))
    }

    /// The same routes, each carrying its metrics from `metrics` (made once, per method).
    func instrumented(with metrics: RPCMetrics) -> Router {
        var router = self
        for name in router.dispatch.keys {
            router.dispatch[name]?.metrics = metrics.method(name)
        }
        return router
    }

    /// The method ready to run: its service's access rule first, then decoding and the
    /// handler. Nil when no method has this name.
    func method(named name: String) -> RegisteredMethod? {
        dispatch[name]
    }

    private func resolve(_ name: String) -> RegisteredMethod? {
        guard let route = routes[name] else { return nil }
        switch access[route.service] {
        case .open:
            return RegisteredMethod(
                handle: { payload, limits, context in
                    await CallLogMetadata.$current.withValue(CallLogMetadata(context)) {
                        await route.handle(payload, limits, context)
                    }
                },
                answerAtOnce: route.answerAtOnce
            )
        case .guarded(let check):
            return RegisteredMethod { payload, limits, context in
                // The check's own lines carry the request id too; the handler's also the caller.
                await CallLogMetadata.$current.withValue(CallLogMetadata(context)) {
                    var context = context
                    do throws(RPCError) {
                        context.caller = try await check(context)
                    } catch {
                        return .failure(error)
                    }
                    return await CallLogMetadata.$current.withValue(CallLogMetadata(context)) { [context] in
                        await route.handle(payload, limits, context)
                    }
                }
            }
        case nil:
            let service = route.service
            return RegisteredMethod { _, _, _ in
                .failure(
                    RPCError(
                        code: .permissionDenied,
                        message: "service \(service) has no access rule on this server; refusing \(name)"
                    )
                )
            }
        }
    }
}

/// A handler with its request and response types erased to bytes, and its answer from
/// memory if it has one (only methods of open services do: a guarded service's check
/// may wait).
struct RegisteredMethod: Sendable {
    let handle: Handle
    var answerAtOnce: AnswerAtOnce? = nil
    /// Where its calls are counted; found with the method, so a call looks up nothing else.
    var metrics: MethodMetrics? = nil
}

/// A handler with its types erased: the payload, the method's decoding limits, the call.
typealias Handle = @Sendable ([UInt8], DecodingLimits, CallContext) async -> Result<[UInt8], RPCError>

/// An answer from memory with its types erased: the payload, the method's decoding limits
/// (passed, not task-local: there is no task), the call, and where to put the outcome (the
/// response's bytes are only lent to it). False, with nothing put, hands the call to the
/// handler.
@usableFromInline
typealias AnswerAtOnce = @Sendable (
    [UInt8], DecodingLimits, CallContext, _ respond: (Result<UnsafeRawBufferPointer, RPCError>) -> Void
) -> Bool
