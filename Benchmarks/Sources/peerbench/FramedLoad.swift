import NIOCore
import NIOPosix
import PeerWire

/// How a response is judged beyond its status code.
enum ResponseCheck: Sendable {
    /// An OK status is enough (echo frames have none: they count as OK).
    case ok
    /// AuthorizePage: the payload's `allowed` (field 1) must be true.
    case allowed
}

/// The closed-loop pipelined client of authd's framing: `connections` TCP connections,
/// each with `depth` calls in flight. Each in-flight slot (lane) sends its next call as soon
/// as its answer arrives, matched by call id (id = k × depth + lane + 1). Request frames are
/// encoded once; per call only the call id is written. One flush per read batch.
struct FramedLoad {
    let group: any EventLoopGroup
    let host: String
    let port: Int
    let connections: Int
    let depth: Int
    let template: RequestTemplate
    let check: ResponseCheck

    func run(warmupNanos: UInt64, windowNanos: UInt64, server: ServerProcess) async throws -> Measurement {
        var channels: [any Channel] = []
        var handlers: [NIOLoopBound<LoadHandler>] = []
        defer { for channel in channels { channel.close(promise: nil) } }
        for _ in 0..<connections {
            let template = self.template, depth = self.depth, check = self.check
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            ByteToMessageHandler(FrameSlicer()),
                            LoadHandler(template: template, depth: depth, check: check, eventLoop: channel.eventLoop),
                        ])
                    }
                }
                .connect(host: host, port: port)
                .get()
            channels.append(channel)
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: LoadHandler.self), eventLoop: channel.eventLoop)
            }.get()
            handlers.append(handler)
        }

        let windowStart = nowNanos() + warmupNanos
        let windowEnd = windowStart + windowNanos
        let done = handlers.map { handler in
            handler.eventLoop.flatSubmit {
                handler.value.start(windowStart: windowStart, windowEnd: windowEnd)
            }
        }
        try await sleep(untilNanos: windowStart)
        let cpuBefore = try server.cpuMicroseconds()
        let clientBefore = try processCPUMicroseconds()
        try await sleep(untilNanos: windowEnd)
        let cpuAfter = try server.cpuMicroseconds()
        let clientAfter = try processCPUMicroseconds()

        // A server that stops answering must not hang the harness: its connections are
        // closed, which ends their handlers with an error.
        let openChannels = channels
        let watchdog = group.next().scheduleTask(in: .seconds(15)) {
            for channel in openChannels { channel.close(promise: nil) }
        }
        defer { watchdog.cancel() }
        var total = Measurement()
        for future in done {
            total.merge(try await future.get())
        }
        total.windowSeconds = Double(windowNanos) / 1e9
        total.serverCPUMicroseconds = cpuAfter - cpuBefore
        total.clientCPUMicroseconds = clientAfter - clientBefore
        return total
    }
}

final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let template: RequestTemplate
    private let depth: Int
    private let check: ResponseCheck
    private let done: EventLoopPromise<Measurement>
    private var context: ChannelHandlerContext?
    private var sentAt: [UInt64]
    private var laneCallID: [UInt64]
    private var laneRound: [UInt64]
    private var inFlight = 0
    private var windowStart: UInt64 = 0
    private var windowEnd: UInt64 = 0
    private var finished = false
    private var result = Measurement()

    init(template: RequestTemplate, depth: Int, check: ResponseCheck, eventLoop: any EventLoop) {
        self.template = template
        self.depth = depth
        self.check = check
        self.done = eventLoop.makePromise()
        sentAt = Array(repeating: 0, count: depth)
        laneCallID = Array(repeating: 0, count: depth)
        laneRound = Array(repeating: 0, count: depth)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func start(windowStart: UInt64, windowEnd: UInt64) -> EventLoopFuture<Measurement> {
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        guard let context else {
            done.fail(HarnessError("connection closed before the run"))
            return done.futureResult
        }
        for lane in 0..<depth { send(lane: lane, context: context) }
        context.flush()
        return done.futureResult
    }

    private func send(lane: Int, context: ChannelHandlerContext) {
        let callID = laneRound[lane] * UInt64(depth) + UInt64(lane) + 1
        laneRound[lane] += 1
        laneCallID[lane] = callID
        var buffer = context.channel.allocator.buffer(capacity: 4 + template.bodySize(callID: callID))
        template.write(callID: callID, into: &buffer)
        sentAt[lane] = nowNanos()
        inFlight += 1
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        let now = nowNanos()
        var allowed = false
        let parsed = body.withUnsafeReadableBytes { raw in
            Result { () throws(ProtoReader.Malformed) in
                try ReceivedFrame.parse(raw) { payload in
                    var reader = ProtoReader(payload)
                    while let (field, value) = try? reader.next() {
                        if field == 1, case .varint(let flag) = value { allowed = flag == 1 }
                    }
                }
            }
        }
        guard case .success(let frame) = parsed else {
            return fail(context: context, "undecodable frame")
        }
        guard frame.callID >= 1, case let lane = Int((frame.callID - 1) % UInt64(depth)),
            laneCallID[lane] == frame.callID, sentAt[lane] != 0
        else {
            return fail(context: context, "answer for unknown call id \(frame.callID) (kind \(frame.kind), code \(frame.code): \(frame.message))")
        }
        let started = sentAt[lane]
        sentAt[lane] = 0
        inFlight -= 1
        if frame.code != 0 {
            result.recordError("status \(frame.code): \(frame.message)")
        } else if check == .allowed && !allowed {
            result.recordError("AuthorizePage answered not allowed")
        } else if started >= windowStart && now <= windowEnd {
            result.record(latencyNanos: now - started)
        }
        if now < windowEnd {
            send(lane: lane, context: context)
        } else if inFlight == 0 {
            finish()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            result.recordError("connection closed with \(inFlight) calls in flight")
            finish()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, "\(error)")
    }

    private func fail(context: ChannelHandlerContext, _ description: String) {
        result.recordError(description)
        finish()
        context.close(promise: nil)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        done.succeed(result)
    }
}

/// One call at a time over authd's framing, for setting a benchmark up (Admin and Auth calls).
final class SetupClient: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<SetupHandler>

    init(group: any EventLoopGroup, host: String, port: Int) async throws {
        channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(FrameSlicer()), SetupHandler()])
                }
            }
            .connect(host: host, port: port)
            .get()
        let channel = self.channel
        handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: SetupHandler.self), eventLoop: channel.eventLoop)
        }.get()
    }

    /// Calls `method`; returns the response payload, or throws the status.
    func call(_ method: String, _ payload: [UInt8], apiKey: String? = nil) async throws -> [UInt8] {
        let handler = self.handler
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit {
            handler.value.call(method: method, payload: payload, apiKey: apiKey, channel: channel)
        }.get()
    }

    func close() async {
        try? await channel.close()
    }
}

final class SetupHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var nextCallID: UInt64 = 0
    private var waiting: [UInt64: (method: String, promise: EventLoopPromise<[UInt8]>)] = [:]

    func call(method: String, payload: [UInt8], apiKey: String?, channel: any Channel) -> EventLoopFuture<[UInt8]> {
        nextCallID += 1
        var writer = ProtoWriter()
        writer.uint(1, 1)
        writer.uint(2, nextCallID)
        writer.string(3, method)
        writer.bytes(4, payload)
        if let apiKey { writer.map(6, [("authorization", "Bearer \(apiKey)")]) }
        writer.uint(7, 30_000)
        var buffer = channel.allocator.buffer(capacity: 4 + writer.bytes.count)
        buffer.writeInteger(UInt32(writer.bytes.count))
        buffer.writeBytes(writer.bytes)
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        waiting[nextCallID] = (method, promise)
        channel.writeAndFlush(buffer, promise: nil)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        var payload: [UInt8] = []
        let parsed = body.withUnsafeReadableBytes { raw in
            Result { () throws(ProtoReader.Malformed) in
                try ReceivedFrame.parse(raw) { payload = Array($0) }
            }
        }
        guard case .success(let frame) = parsed, let call = waiting.removeValue(forKey: frame.callID) else {
            return
        }
        if frame.code == 0 {
            call.promise.succeed(payload)
        } else {
            call.promise.fail(HarnessError("\(call.method): status \(frame.code): \(frame.message)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for (_, call) in waiting { call.promise.fail(HarnessError("\(call.method): connection closed")) }
        waiting = [:]
        context.fireChannelInactive()
    }
}
