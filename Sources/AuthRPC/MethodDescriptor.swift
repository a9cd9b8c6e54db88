public import AuthWire

/// A method of a service, typed by its request and response messages.
public struct MethodDescriptor<Request: WireMessage, Response: WireMessage>: Sendable, Hashable {
    /// "auth.v1.Auth"
    public let service: String
    /// "Login"
    public let method: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// The name on the wire: "/auth.v1.Auth/Login".
    public var path: String {
        "/\(service)/\(method)"
    }
}
