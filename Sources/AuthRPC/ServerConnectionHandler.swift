import AuthWire
import CoreMetrics
import Logging
import NIOCore
import NIOSSL


/// The server side of one connection: cuts the bytes it reads into request frames
/// (`FrameDecoder`), turns them into handler calls, many in flight at once, and their
/// outcomes into response frames, in completion order.
///
/// Everything here runs on the connection's event loop; handlers run as tasks off it, and
/// so does the decoding of their requests, except a small request that a method answers
/// from memory (`Router.answerFromMemory`). `inFlight` is the arbiter of the one answer per
/// call: whoever removes a call from it (its handler finishing, its deadline passing, a
/// CANCEL) decides what, if anything, is written for it, and releases the call's bytes to
/// the `ReadBudgetHandler`.
///
/// Framing and encoding happen here rather than in NIO's generic `ByteToMessageHandler` and
/// `MessageToByteHandler`: a token check answered from memory costs a few microseconds,
/// and those handlers' type-erased hand-offs (a boxed frame each way) were a good part of it.
/// The answers of one read go out in one buffer, with one write and one flush.
final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlightCall {
        /// Tells this call from a later one that reuses its id after a CANCEL or deadline.
        let serial: UInt64
        let task: Task<Void, Never>
        let requestID: RequestID
        /// The request frame's bytes on the wire, held against the read budget until answered.
        let wireBytes: Int
        var deadlineTimer: Scheduled<Void>?
        /// Where the call's outcome is counted, and since when; nil with metrics off.
        let metrics: MethodMetrics?
        let started: NIODeadline
    }

    /// A GOAWAY the peer does not read (its window full) must not keep the connection open.
    static let goAwayWriteTimeout = TimeAmount.seconds(5)

    private let router: Router
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let log: RateLimitedLog
    private let metrics: RPCMetrics?
    private let readBudget: ReadBudgetHandler
    private var decoder: FrameDecoder
    private var context: ChannelHandlerContext?
    /// The start of a frame not yet read to its end.
    private var unframed: ByteBuffer?
    /// Frames written and not yet passed to the channel.
    private var outbound: ByteBuffer?
    /// Within `channelRead`: what it writes goes out at `channelReadComplete`.
    private var reading = false
    /// Bytes of frames done with during this read, released to the budget at its end.
    private var releasedInRead = 0
    private var inFlight: [UInt64: InFlightCall] = [:]
    private var nextSerial: UInt64 = 0
    /// Made-up request ids are this plus the call's serial: random once per connection, so
    /// that ids of different connections and processes do not repeat, and free per call.
    private let requestIDBase: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private var flushPending = false
    private var draining = false
    private var closing = false
    private var peerAddress: String?
    private var peerKey = "?"
    /// The last frame read, or the last call answered when that was later: idle time counts from here.
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(
        router: Router,
        configuration: ServerConfiguration,
        readBudget: ReadBudgetHandler,
        logger: Logger,
        log: RateLimitedLog,
        metrics: RPCMetrics? = nil
    ) {
        self.router = router
        self.configuration = configuration
        self.readBudget = readBudget
        self.decoder = FrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes, limits: configuration.envelopeLimits)
        self.logger = logger
        self.log = log
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.peerAddress = context.channel.remoteAddress?.description
        self.peerKey = context.channel.remoteAddress?.ipAddress ?? "?"
        lastActivity = .now()
        scheduleIdleCheck(at: lastActivity + TimeAmount(configuration.idleTimeout))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        unframed = nil
        outbound = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        abandonCalls()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var buffer = unwrapInboundIn(data)
        if var start = unframed {
            unframed = nil
            // The bytes already cut off are dropped before more are appended behind them.
            start.discardReadBytes()
            start.writeBuffer(&buffer)
            buffer = start
        }
        reading = true
        var framesRead = false
        while !closing {
            let received: ReceivedFrame?
            do throws(FrameError) {
                received = try decoder.decode(buffer: &buffer)
            } catch {
                refuse(error.status)
                return
            }
            guard let received else { break }
            framesRead = true
            handle(received, context: context)
        }
        if framesRead {
            lastActivity = .now()
        }
        if buffer.readableBytes > 0 {
            unframed = buffer
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if releasedInRead > 0 {
            readBudget.release(releasedInRead)
            releasedInRead = 0
        }
        writeOutbound(context: context)
        context.fireChannelReadComplete()
    }

    private func handle(_ received: ReceivedFrame, context: ChannelHandlerContext) {
        let frame = received.frame
        switch frame.kind {
        case .request:
            if !startCall(frame, wireBytes: received.wireBytes, context: context) {
                release(received.wireBytes)
            }
        case .cancel:
            release(received.wireBytes)
            if let call = inFlight.removeValue(forKey: frame.callID) {
                call.deadlineTimer?.cancel()
                call.task.cancel()
                release(call.wireBytes)
                ended(call, .cancelled)
                finishDrainIfDone()
            }
        default:
            release(received.wireBytes)
            refuse(RPCError.invalidArgument("frame kind \(frame.kind) is not allowed from a client"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case is NIOSSLError, is BoringSSLError:
            // A client without our CA, without a client certificate, or speaking TLS 1.1.
            log.log(.info, key: peerKey, "TLS failed: \(error)", metadata: ["peer": "\(peerAddress ?? "?")"])
            context.close(promise: nil)
        default:
            logger.debug("connection error: \(error)", metadata: ["peer": "\(peerAddress ?? "?")"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:  // finish the calls in flight, then GOAWAY and close
            draining = true
            finishDrainIfDone()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Calls

    /// Starts the call of a REQUEST frame; false when the frame was answered or refused at
    /// once, so that the caller releases its bytes.
    private func startCall(_ frame: AuthV1.Frame, wireBytes: Int, context: ChannelHandlerContext) -> Bool {
        let callID = frame.callID
        guard callID != 0 else {
            refuse(RPCError.invalidArgument("request frame has call_id 0; call ids start at 1"))
            return false
        }
        guard inFlight[callID] == nil else {
            refuse(RPCError.invalidArgument("call id \(callID) is already in flight on this connection"))
            return false
        }
        nextSerial &+= 1
        let serial = nextSerial
        let requestID = frame.metadata[MetadataKey.requestID].flatMap(Self.acceptableRequestID).map(RequestID.given)
            ?? .generated(requestIDBase &+ serial)
        // Found first, so that refusals below are counted against the method too.
        let registered = router.method(named: frame.method)
        let methodMetrics = registered == nil ? metrics?.unknownMethod : registered?.metrics
        guard !draining else {
            methodMetrics?.record(.unavailable, nanoseconds: nil)
            respond(callID: callID, requestID: requestID, outcome: .failure(.unavailable("server is shutting down")))
            return false
        }
        guard inFlight.count < configuration.maximumCallsInFlight else {
            methodMetrics?.record(.resourceExhausted, nanoseconds: nil)
            respond(
                callID: callID,
                requestID: requestID,
                outcome: .failure(
                    .resourceExhausted(
                        "\(inFlight.count) calls already in flight on this connection (limit \(configuration.maximumCallsInFlight))"
                    )
                )
            )
            return false
        }
        guard let method = registered else {
            let message = frame.method.isEmpty
                ? "request frame has no method"
                : "method \(frame.method) is not implemented by this server"
            methodMetrics?.record(.unimplemented, nanoseconds: nil)
            respond(callID: callID, requestID: requestID, outcome: .failure(.unimplemented(message)))
            return false
        }

        let timeout: Duration? = frame.timeoutMs > 0 ? .milliseconds(frame.timeoutMs) : nil
        let callContext = CallContext(
            method: frame.method,
            metadata: frame.metadata,
            requestIdentifier: requestID,
            deadline: timeout.map { ContinuousClock.now + $0 },
            peerAddress: peerAddress,
            logger: self.logger
        )
        let payload = frame.payload
        let limits = configuration.requestLimits(for: frame.method)
        // A small request of a method with an answer from memory is tried here, on the
        // event loop: a hit is answered without a task or a thread hop.
        let answerStarted = methodMetrics == nil ? NIODeadline.uptimeNanoseconds(0) : .now()
        if let answerAtOnce = method.answerAtOnce, payload.count <= configuration.maximumInlineRequestBytes {
            var code = RPCError.Code.ok
            let answered = answerAtOnce(payload, limits, callContext) { outcome in
                if case .failure(let error) = outcome { code = error.code }
                writeResponse(callID: callID, requestID: requestID, outcome: outcome)
            }
            if answered {
                methodMetrics?.record(code, nanoseconds: (NIODeadline.now() - answerStarted).nanoseconds)
                return false
            }
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        // The request is decoded in the task, off the event loop, under the method's limits.
        let task = Task {
            let outcome = await method.handle(payload, limits, callContext)
            loopBound.eventLoop.execute {
                loopBound.value.complete(callID: callID, serial: serial, outcome: outcome)
            }
        }
        if methodMetrics != nil { metrics?.callsInFlight.increment() }
        var call = InFlightCall(
            serial: serial, task: task, requestID: requestID, wireBytes: wireBytes,
            metrics: methodMetrics, started: methodMetrics == nil ? .uptimeNanoseconds(0) : .now())
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
        return true
    }

    private func complete(callID: UInt64, serial: UInt64, outcome: Result<[UInt8], RPCError>) {
        // Cancelled, timed out, the connection gone, or the id reused by a newer call:
        // nobody waits for this outcome.
        guard let call = inFlight[callID], call.serial == serial else { return }
        inFlight[callID] = nil
        call.deadlineTimer?.cancel()
        if inFlight.isEmpty {
            lastActivity = .now()
        }
        respond(callID: callID, requestID: call.requestID, outcome: outcome)
        release(call.wireBytes)
        switch outcome {
        case .success: ended(call, .ok)
        case .failure(let error): ended(call, error.code)
        }
        finishDrainIfDone()
    }

    // MARK: Metrics

    /// Counts a call that left `inFlight` with `code` (CANCELLED when nobody got an answer).
    private func ended(_ call: InFlightCall, _ code: RPCError.Code) {
        guard let methodMetrics = call.metrics else { return }
        methodMetrics.record(code, nanoseconds: (NIODeadline.now() - call.started).nanoseconds)
        metrics?.callsInFlight.decrement()
    }

    private func respond(callID: UInt64, requestID: RequestID, outcome: Result<[UInt8], RPCError>) {
        switch outcome {
        case .success(let payload):
            payload.withUnsafeBytes { writeResponse(callID: callID, requestID: requestID, outcome: .success($0)) }
        case .failure(let error):
            writeResponse(callID: callID, requestID: requestID, outcome: .failure(error))
        }
    }

    /// Appends the answer to the frames waiting to go out: they are written at the end of
    /// this read or, outside one, in the event loop's next tick with whatever else completes
    /// in this one.
    private func writeResponse(callID: UInt64, requestID: RequestID, outcome: Result<UnsafeRawBufferPointer, RPCError>) {
        guard let context, !closing else { return }
        var buffer = takeOutbound(context)
        buffer.writeResponseFrame(callID: callID, requestID: requestID, outcome: outcome)
        outbound = buffer
        if !reading {
            scheduleFlush(context: context)
        }
    }

    /// The frames waiting to go out, or a new buffer; taken, so that appending does not copy.
    private func takeOutbound(_ context: ChannelHandlerContext) -> ByteBuffer {
        defer { outbound = nil }
        return outbound ?? context.channel.allocator.buffer(capacity: Self.outboundCapacity)
    }

    /// What a batch of answers starts with: a few dozen small ones fit without growing.
    static let outboundCapacity = 4096

    private func writeOutbound(context: ChannelHandlerContext) {
        guard let buffer = outbound else { return }
        outbound = nil
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Coalesces the flushes of responses completed in the same event-loop tick.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = loopBound.value
            handler.flushPending = false
            if let context = handler.context {
                handler.writeOutbound(context: context)
            }
        }
    }

    /// Gives bytes back to the read budget, which may resume reading: at the end of the
    /// read when called within one, so that one read's frames cost one release.
    private func release(_ bytes: Int) {
        if reading {
            releasedInRead += bytes
        } else {
            readBudget.release(bytes)
        }
    }

    // MARK: Idle time

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.checkIdle()
        }
    }

    /// Idle means no call in flight and no frame completed for the idle timeout. Bytes of
    /// a frame that never completes do not count, so a peer cannot hold a connection (and
    /// its buffered bytes) by trickling.
    private func checkIdle() {
        let timeout = TimeAmount(configuration.idleTimeout)
        let now = NIODeadline.now()
        guard inFlight.isEmpty else {
            scheduleIdleCheck(at: now + timeout)
            return
        }
        let due = lastActivity + timeout
        guard now >= due else {
            scheduleIdleCheck(at: due)
            return
        }
        let seconds = Double(configuration.idleTimeout.components.seconds)
            + Double(configuration.idleTimeout.components.attoseconds) / 1e18
        goAway(RPCError.unavailable("connection idle for \(seconds) s"))
    }

    // MARK: Closing

    private func finishDrainIfDone() {
        if draining && inFlight.isEmpty {
            goAway(RPCError.unavailable("server is shutting down"))
        }
    }

    /// GOAWAY for what a peer sent that no client should: logged (rate-limited per peer).
    private func refuse(_ reason: RPCError) {
        guard !closing else { return }
        log.log(
            .info,
            key: peerKey,
            "closing connection: \(reason.message)",
            metadata: ["peer": "\(peerAddress ?? "?")", "code": "\(reason.code)"]
        )
        goAway(reason)
    }

    /// Sends a GOAWAY saying why, then closes. Calls still in flight are abandoned.
    private func goAway(_ reason: RPCError) {
        guard let context, !closing else { return }
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        abandonCalls()
        // Answers already written go out first, as they would have.
        var buffer = takeOutbound(context)
        buffer.writeFrame(AuthV1.Frame(kind: .goaway, status: reason.status))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(promise: nil)
        }
        context.eventLoop.scheduleTask(in: Self.goAwayWriteTimeout) {
            channel.close(promise: nil)
        }
    }

    private func abandonCalls() {
        for (_, call) in inFlight {
            call.deadlineTimer?.cancel()
            call.task.cancel()
            release(call.wireBytes)
            ended(call, .cancelled)
        }
        inFlight.removeAll()
    }

    /// A caller's request id goes into every log line of its call: printable ASCII of a
    /// sane length only; anything else is replaced by one made here.
    private static func acceptableRequestID(_ id: String) -> String? {
        guard !id.isEmpty, id.utf8.count <= 128, id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return id
    }

}

/// Answers a connection over a limit with a GOAWAY as soon as it is active, then closes it.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reason: RPCError

    init(reason: RPCError) {
        self.reason = reason
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeFrame(AuthV1.Frame(kind: .goaway, status: reason.status))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            channel.close(promise: nil)
        }
        context.eventLoop.scheduleTask(in: ServerConnectionHandler.goAwayWriteTimeout) {
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
