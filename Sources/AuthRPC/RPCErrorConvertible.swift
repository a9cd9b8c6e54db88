import AuthWire
/// An error that knows the status it reaches a caller with. Handlers throw their own
/// errors; the router converts them here, in one place, instead of every method
/// wrapping its body (grpc-swift-2's `RPCErrorConvertible`).
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}

extension RPCError {
    /// What a caller receives for `error`: its own status when it has one, otherwise
    /// INTERNAL without the error's text, which may hold what a caller must not see.
    public init(converting error: any Error, method: String) {
        if let convertible = error as? any RPCErrorConvertible {
            self = convertible.rpcError
        } else if error is CancellationError {
            self = RPCError(code: .cancelled, message: "\(method) was cancelled")
        } else {
            self = RPCError.internalError("\(method) failed")
        }
    }
}
