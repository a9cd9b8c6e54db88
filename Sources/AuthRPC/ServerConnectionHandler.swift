import AuthWire
import Logging
import NIOCore

/// Asks a connection to finish its calls in flight, then say GOAWAY and close.
struct DrainConnectionEvent: Sendable {}

/// The server side of one connection: turns request frames into handler calls, many
/// in flight at once, and their outcomes into response frames, in completion order.
///
/// Everything here runs on the connection's event loop; handlers run as tasks off it.
/// `inFlight` is the arbiter of the one answer per call: whoever removes a call from it
/// (its handler finishing, its deadline passing, a CANCEL) decides what, if anything,
/// is written for it.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = AuthV1.Frame
    typealias OutboundOut = AuthV1.Frame

    private struct InFlightCall {
        /// Tells this call from a later one that reuses its id after a CANCEL or deadline.
        let serial: UInt64
        let task: Task<Void, Never>
        let requestID: String
        var deadlineTimer: Scheduled<Void>?
    }

    private let router: Router
    private let configuration: ServerConfiguration
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var inFlight: [UInt64: InFlightCall] = [:]
    private var nextSerial: UInt64 = 0
    private var flushPending = false
    private var draining = false
    private var closing = false
    private var peerAddress: String?

    init(router: Router, configuration: ServerConfiguration, logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.peerAddress = context.channel.remoteAddress?.description
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        for (_, call) in inFlight {
            call.deadlineTimer?.cancel()
            call.task.cancel()
        }
        inFlight.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        switch frame.kind {
        case .request:
            startCall(frame, context: context)
        case .cancel:
            if let call = inFlight.removeValue(forKey: frame.callID) {
                call.deadlineTimer?.cancel()
                call.task.cancel()
                finishDrainIfDone()
            }
        default:
            goAway(RPCError.invalidArgument("frame kind \(frame.kind) is not allowed from a client"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as FrameError:
            logger.info("closing connection: \(error.status.message)", metadata: ["peer": "\(peerAddress ?? "?")"])
            goAway(error.status)
        default:
            logger.debug("connection error: \(error)", metadata: ["peer": "\(peerAddress ?? "?")"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            if inFlight.isEmpty {
                let seconds = Double(configuration.idleTimeout.components.seconds)
                    + Double(configuration.idleTimeout.components.attoseconds) / 1e18
                goAway(RPCError.unavailable("connection idle for \(seconds) s"))
            }
        case is DrainConnectionEvent:
            draining = true
            finishDrainIfDone()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Calls

    private func startCall(_ frame: AuthV1.Frame, context: ChannelHandlerContext) {
        let callID = frame.callID
        guard callID != 0 else {
            goAway(RPCError.invalidArgument("request frame has call_id 0; call ids start at 1"))
            return
        }
        guard inFlight[callID] == nil else {
            goAway(RPCError.invalidArgument("call id \(callID) is already in flight on this connection"))
            return
        }
        let requestID = frame.metadata[MetadataKey.requestID] ?? Self.makeRequestID()
        guard !draining else {
            respond(callID: callID, requestID: requestID, outcome: .failure(.unavailable("server is shutting down")))
            return
        }
        guard inFlight.count < configuration.maximumCallsInFlight else {
            respond(
                callID: callID,
                requestID: requestID,
                outcome: .failure(
                    .resourceExhausted(
                        "\(inFlight.count) calls already in flight on this connection (limit \(configuration.maximumCallsInFlight))"
                    )
                )
            )
            return
        }
        guard let method = router.method(named: frame.method) else {
            let message = frame.method.isEmpty
                ? "request frame has no method"
                : "method \(frame.method) is not implemented by this server"
            respond(callID: callID, requestID: requestID, outcome: .failure(.unimplemented(message)))
            return
        }

        let timeout: Duration? = frame.timeoutMs > 0 ? .milliseconds(frame.timeoutMs) : nil
        let callContext = CallContext(
            method: frame.method,
            metadata: frame.metadata,
            requestID: requestID,
            deadline: timeout.map { ContinuousClock.now + $0 },
            peerAddress: peerAddress,
            logger: self.logger
        )
        let payload = frame.payload
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        nextSerial &+= 1
        let serial = nextSerial
        let task = Task {
            let outcome = await method.handle(payload, callContext)
            loopBound.eventLoop.execute {
                loopBound.value.complete(callID: callID, serial: serial, outcome: outcome)
            }
        }
        var call = InFlightCall(serial: serial, task: task, requestID: requestID)
        if let timeout {
            call.deadlineTimer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                let handler = loopBound.value
                guard let call = handler.inFlight[callID], call.serial == serial else { return }
                call.task.cancel()
                handler.complete(
                    callID: callID,
                    serial: serial,
                    outcome: .failure(.deadlineExceeded("deadline of \(frame.timeoutMs) ms exceeded"))
                )
            }
        }
        inFlight[callID] = call
    }

    private func complete(callID: UInt64, serial: UInt64, outcome: Result<[UInt8], RPCError>) {
        // Cancelled, timed out, the connection gone, or the id reused by a newer call:
        // nobody waits for this outcome.
        guard let call = inFlight[callID], call.serial == serial else { return }
        inFlight[callID] = nil
        call.deadlineTimer?.cancel()
        respond(callID: callID, requestID: call.requestID, outcome: outcome)
        finishDrainIfDone()
    }

    private func respond(callID: UInt64, requestID: String, outcome: Result<[UInt8], RPCError>) {
        guard let context, !closing else { return }
        var frame = AuthV1.Frame(kind: .response, callID: callID, metadata: [MetadataKey.requestID: requestID])
        switch outcome {
        case .success(let payload):
            frame.payload = payload
            frame.status = AuthV1.Status(code: .ok)
        case .failure(let error):
            frame.status = error.status
        }
        context.write(wrapOutboundOut(frame), promise: nil)
        scheduleFlush(context: context)
    }

    /// Coalesces the flushes of responses completed in the same event-loop tick.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = loopBound.value
            handler.flushPending = false
            handler.context?.flush()
        }
    }

    private func finishDrainIfDone() {
        if draining && inFlight.isEmpty {
            goAway(RPCError.unavailable("server is shutting down"))
        }
    }

    /// Sends a GOAWAY saying why, then closes. Calls still in flight are abandoned.
    private func goAway(_ reason: RPCError) {
        guard let context, !closing else { return }
        closing = true
        for (_, call) in inFlight {
            call.deadlineTimer?.cancel()
            call.task.cancel()
        }
        inFlight.removeAll()
        let frame = AuthV1.Frame(kind: .goaway, status: reason.status)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Answers a connection over the limit with a GOAWAY as soon as it is active, then closes it.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = AuthV1.Frame
    typealias OutboundOut = AuthV1.Frame

    private let reason: RPCError

    init(reason: RPCError) {
        self.reason = reason
    }

    func channelActive(context: ChannelHandlerContext) {
        let frame = AuthV1.Frame(kind: .goaway, status: reason.status)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
