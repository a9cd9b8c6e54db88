public import Logging

/// What a handler knows about the call it serves, beyond the request message.
public struct CallContext: Sendable {
    /// "/auth.v1.Auth/Login"
    public var method: String
    /// Request metadata, keys lower case.
    public var metadata: [String: String]
    /// The caller's `x-request-id`, or one the server made up; echoed in the response.
    public var requestID: String { requestIdentifier.description }
    /// The same, unformatted: a made-up id is spelt out only when a line or the response
    /// needs it.
    public var requestIdentifier: RequestID
    /// When the caller stops waiting; nil when it waits forever.
    public var deadline: ContinuousClock.Instant?
    /// The TCP peer: the calling backend, not its end user (see `MetadataKey.clientAddress`).
    public var peerAddress: String?
    /// Who the service's access rule found the call to come from (an API key's id); nil
    /// for a service open to anyone.
    public var caller: String?
    /// The server's logger; `logger` adds this call's metadata to it.
    public var baseLogger: Logger

    /// Carries `request-id`, `method` and `by-key` metadata. Built on use: most calls never log.
    public var logger: Logger {
        var logger = baseLogger
        for (key, value) in CallLogMetadata(self).metadata {
            logger[metadataKey: key] = value
        }
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
        self.init(method: method, metadata: metadata, requestIdentifier: .given(requestID), deadline: deadline,
                  peerAddress: peerAddress, logger: logger)
    }

    init(
        method: String,
        metadata: [String: String],
        requestIdentifier: RequestID,
        deadline: ContinuousClock.Instant?,
        peerAddress: String?,
        logger: Logger
    ) {
        self.method = method
        self.metadata = metadata
        self.requestIdentifier = requestIdentifier
        self.deadline = deadline
        self.peerAddress = peerAddress
        self.baseLogger = logger
    }
}

/// What every log line written while a call is served carries, whichever logger writes it:
/// the router binds it for the call's task, and `provider`, set on the server's logger,
/// adds it to each line. So the domain's lines (`login ok`, `user blocked`) name the call's
/// request id and the key that authorised it without each flow being handed the call.
public struct CallLogMetadata: Sendable {
    public var requestID: RequestID
    public var method: String
    public var caller: String?

    public init(_ context: CallContext) {
        requestID = context.requestIdentifier
        method = context.method
        caller = context.caller
    }

    /// The call being served on this task, if any.
    @TaskLocal public static var current: CallLogMetadata?

    /// `request-id`, `method` and, when a key authorised the call, `by-key`.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["request-id": "\(requestID)", "method": "\(method)"]
        if let caller { metadata["by-key"] = "\(caller)" }
        return metadata
    }

    /// Adds the current call's metadata to every line of a logger that has it.
    public static let provider = Logger.MetadataProvider { current?.metadata ?? [:] }

    /// `logger` with `provider` added to whatever provider its handler already has.
    public static func addingProvider(to logger: Logger) -> Logger {
        var logger = logger
        logger.handler.metadataProvider = .multiplex([logger.metadataProvider, provider].compactMap { $0 })
        return logger
    }
}

/// A call's request id: the caller's `x-request-id`, or one made up from the connection's
/// random base and the call's serial number. Made without a system call or an allocation;
/// spelt out (16 hex digits) only when a log line or the response needs it.
public struct RequestID: Sendable, CustomStringConvertible, Hashable {
    enum Storage: Hashable {
        case given(String)
        case generated(UInt64)
    }

    let storage: Storage

    public static func given(_ id: String) -> RequestID { RequestID(storage: .given(id)) }
    public static func generated(_ value: UInt64) -> RequestID { RequestID(storage: .generated(value)) }

    public var description: String {
        switch storage {
        case .given(let id):
            return id
        case .generated:
            return withUTF8 { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The id's UTF-8 bytes, lent to `body`: a made-up id is spelt out on the stack.
    func withUTF8<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch storage {
        case .given(var id):
            return id.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .generated(let value):
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
                for index in 0..<16 {
                    let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0xF
                    digits[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                }
                return body(UnsafeRawBufferPointer(digits))
            }
        }
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
