/// Limits and addresses of an `RPCServer`. Every limit protects the server from one
/// peer; defaults suit a service reached by a few backends over a private network.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `RPCServer.localPort` tells which.
    public var port: Int
    /// Largest frame accepted, in bytes of the envelope after the 4-byte length.
    public var maximumFrameBytes: Int
    /// Calls one connection may have in flight; more are answered RESOURCE_EXHAUSTED.
    public var maximumCallsInFlight: Int
    /// A connection with no frame read and no call in flight for this long gets a GOAWAY.
    public var idleTimeout: Duration
    /// Connections beyond this are sent a GOAWAY right after accept.
    public var maximumConnections: Int
    /// How long a graceful shutdown waits for calls in flight before closing anyway.
    public var shutdownGracePeriod: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 7400,
        maximumFrameBytes: Int = 4 * 1024 * 1024,
        maximumCallsInFlight: Int = 256,
        idleTimeout: Duration = .seconds(300),
        maximumConnections: Int = 4096,
        shutdownGracePeriod: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.maximumFrameBytes = maximumFrameBytes
        self.maximumCallsInFlight = maximumCallsInFlight
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    public static var defaults: Self { Self() }
}
