public import Logging

/// What a handler knows about the call it serves, beyond the request message.
public struct CallContext: Sendable {
    /// "/auth.v1.Auth/Login"
    public var method: String
    /// Request metadata, keys lower case.
    public var metadata: [String: String]
    /// The caller's `x-request-id`, or one the server made up; echoed in the response.
    public var requestID: String
    /// When the caller stops waiting; nil when it waits forever.
    public var deadline: ContinuousClock.Instant?
    /// The TCP peer: the calling backend, not its end user (see `MetadataKey.clientAddress`).
    public var peerAddress: String?
    /// The server's logger; `logger` adds this call's metadata to it.
    public var baseLogger: Logger

    /// Carries `request-id` and `method` metadata. Built on use: most calls never log.
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request-id"] = "\(requestID)"
        logger[metadataKey: "method"] = "\(method)"
        return logger
    }

    public init(
        method: String,
        metadata: [String: String] = [:],
        requestID: String,
        deadline: ContinuousClock.Instant? = nil,
        peerAddress: String? = nil,
        logger: Logger
    ) {
        self.method = method
        self.metadata = metadata
        self.requestID = requestID
        self.deadline = deadline
        self.peerAddress = peerAddress
        self.baseLogger = logger
    }
}

/// The metadata keys authd gives a meaning to. Keys are lower case on the wire.
public enum MetadataKey {
    /// "Bearer <api key>".
    public static let authorization = "authorization"
    /// Correlates logs of caller and server; echoed in the response.
    public static let requestID = "x-request-id"
    /// The end user's IP address as the calling backend saw it, for per-address throttles.
    public static let clientAddress = "x-client-address"
}

/// Per-call settings of a client.
public struct CallOptions: Sendable {
    /// How long the caller waits; sent to the server, which stops working when it passes.
    public var timeout: Duration?
    /// Extra request metadata; keys are lower-cased on the wire.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.metadata = metadata
    }

    public static var defaults: Self { Self() }
}
