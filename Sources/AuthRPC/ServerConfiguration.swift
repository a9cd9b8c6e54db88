public import AuthWire

/// Limits and addresses of an `RPCServer`. Every limit protects the server from one
/// peer; defaults suit a service reached by a few backends over a private network.
/// `docs/operations.md` turns them into a worst-case memory figure.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `RPCServer.localPort` tells which.
    public var port: Int
    /// Largest frame accepted, in bytes of the envelope after the 4-byte length: what the
    /// largest legitimate call needs, an ImportUsers chunk (authctl cuts them at 2 MiB plus
    /// the record in progress).
    public var maximumFrameBytes: Int
    /// Calls one connection may have in flight; more are answered RESOURCE_EXHAUSTED.
    public var maximumCallsInFlight: Int
    /// A connection with no call in flight that completes no frame for this long gets a
    /// GOAWAY. Bytes trickling in do not count: a frame must arrive whole within it.
    public var idleTimeout: Duration
    /// Connections beyond this are sent a GOAWAY right after accept.
    public var maximumConnections: Int
    /// Connections from one TCP peer address beyond this are sent a GOAWAY right after
    /// accept, so that one source cannot take every slot.
    public var maximumConnectionsPerPeer: Int
    /// Bytes one connection may hold, read but not done with: a frame being received and the
    /// requests of its calls in flight. At the limit the connection's reads pause.
    /// At least `maximumFrameBytes + 4`, or a largest frame could never arrive.
    public var maximumBufferedBytesPerConnection: Int
    /// The same over all connections. At the limit every connection that holds bytes pauses
    /// its reads; a connection holding none still reads, so small calls go on.
    public var maximumBufferedBytes: Int
    /// Counts allowed when decoding a frame's envelope (its metadata entries, above all).
    public var envelopeLimits: DecodingLimits
    /// Counts allowed when decoding a request payload, unless `methodRequestLimits` says otherwise.
    public var requestLimits: DecodingLimits
    /// Per-method exceptions to `requestLimits`, by path ("/auth.v1.Admin/ImportUsers").
    public var methodRequestLimits: [String: DecodingLimits]
    /// Log lines about one peer's malformed frames and refused connections, per second;
    /// the rest are counted and reported once a second.
    public var logLinesPerPeerPerSecond: Int
    /// How long a graceful shutdown waits for calls in flight before closing anyway.
    public var shutdownGracePeriod: Duration
    /// Requests up to this size of a method with an answer from memory (a token check) are
    /// decoded and answered on the event loop; larger ones go to a task like any call, so
    /// that decoding on the loop stays a bounded, tiny cost.
    public var maximumInlineRequestBytes = 1024
    /// TLS on the port; nil serves plaintext (for loopback development: authd warns on any
    /// other address).
    public var tls: ServerTLSConfiguration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 7400,
        maximumFrameBytes: Int = 3 * 1024 * 1024,
        maximumCallsInFlight: Int = 256,
        idleTimeout: Duration = .seconds(60),
        maximumConnections: Int = 4096,
        maximumConnectionsPerPeer: Int = 64,
        maximumBufferedBytesPerConnection: Int = 4 * 1024 * 1024,
        maximumBufferedBytes: Int = 128 * 1024 * 1024,
        envelopeLimits: DecodingLimits = DecodingLimits(maximumElements: 64, maximumFields: 512),
        requestLimits: DecodingLimits = .defaults,
        methodRequestLimits: [String: DecodingLimits] = [:],
        logLinesPerPeerPerSecond: Int = 5,
        shutdownGracePeriod: Duration = .seconds(10),
        tls: ServerTLSConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.maximumFrameBytes = maximumFrameBytes
        self.maximumCallsInFlight = maximumCallsInFlight
        self.idleTimeout = idleTimeout
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerPeer = maximumConnectionsPerPeer
        self.maximumBufferedBytesPerConnection = maximumBufferedBytesPerConnection
        self.maximumBufferedBytes = maximumBufferedBytes
        self.envelopeLimits = envelopeLimits
        self.requestLimits = requestLimits
        self.methodRequestLimits = methodRequestLimits
        self.logLinesPerPeerPerSecond = logLinesPerPeerPerSecond
        self.shutdownGracePeriod = shutdownGracePeriod
        self.tls = tls
    }

    public static var defaults: Self { Self() }

    /// The decoding limits of `method`'s request.
    public func requestLimits(for method: String) -> DecodingLimits {
        methodRequestLimits[method] ?? requestLimits
    }

    /// What is inconsistent, or nil: budgets that could never admit a largest frame.
    public var problem: String? {
        if maximumBufferedBytesPerConnection < maximumFrameBytes + 4 {
            return "the per-connection buffer (\(maximumBufferedBytesPerConnection) bytes) must hold a largest frame (\(maximumFrameBytes) + 4 bytes)"
        }
        if maximumBufferedBytes < maximumBufferedBytesPerConnection {
            return "the server-wide buffer (\(maximumBufferedBytes) bytes) must be at least the per-connection one (\(maximumBufferedBytesPerConnection) bytes)"
        }
        return nil
    }
}
