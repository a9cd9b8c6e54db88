#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AuthWire
import InMemoryLogging
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import AuthRPC

/// Counts the reads that get past the handlers after it, toward the socket.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant { instant.withLock { $0 } }

    func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }
}

func quietLog() -> RateLimitedLog {
    var logger = Logger(label: "test.quiet")
    logger.logLevel = .critical
    return RateLimitedLog(logger: logger, linesPerSecond: 1)
}

/// A connection's pipeline as the server builds it, cut down to the read budget.
struct GatedChannel {
    let channel: EmbeddedChannel
    let counter = ReadCounter()
    let gate: ReadBudgetHandler

    init(connectionLimit: Int, server: ServerReadBudget) throws {
        gate = ReadBudgetHandler(connectionLimit: connectionLimit, server: server, log: quietLog())
        channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, gate])
    }

    /// What NIO does after each read when autoRead is on.
    func askToRead() {
        channel.read()
    }

    func receive(_ count: Int) throws {
        try channel.writeInbound(ByteBuffer(repeating: 0, count: count))
        _ = try channel.readInbound(as: ByteBuffer.self)
    }

    func release(_ count: Int) {
        gate.release(count)
    }
}

@Suite("Read budget")
struct ReadBudgetTests {
    @Test("a connection's reads pause at its budget and resume when bytes are released")
    func connectionBudget() throws {
        let server = ServerReadBudget(limit: 1 << 20)
        let connection = try GatedChannel(connectionLimit: 100, server: server)
        connection.askToRead()
        #expect(connection.counter.reads == 1)
        try connection.receive(60)
        connection.askToRead()
        #expect(connection.counter.reads == 2, "60 of 100 bytes held: reading goes on")
        try connection.receive(60)
        connection.askToRead()
        #expect(connection.counter.reads == 2, "120 of 100 bytes held: the read is held back")
        #expect(connection.gate.readHeld)
        #expect(server.used == 120)

        connection.release(60)
        #expect(connection.counter.reads == 3, "back under the budget: the held read goes out")
        #expect(server.used == 60)
        _ = try connection.channel.finish()
        #expect(server.used == 0, "a closed connection gives back everything it held")
    }

    @Test("at the server's budget connections holding bytes pause, empty ones read, releases wake them")
    func serverBudget() throws {
        let server = ServerReadBudget(limit: 100)
        let filler = try GatedChannel(connectionLimit: 1000, server: server)
        let holder = try GatedChannel(connectionLimit: 1000, server: server)
        let empty = try GatedChannel(connectionLimit: 1000, server: server)

        try holder.receive(10)
        try filler.receive(90)
        #expect(server.used == 100)
        holder.askToRead()
        #expect(holder.counter.reads == 0, "the server is at its budget and this connection holds bytes")
        empty.askToRead()
        #expect(empty.counter.reads == 1, "a connection holding nothing may still read: small calls go on")

        filler.release(90)
        holder.channel.embeddedEventLoop.run()
        #expect(holder.counter.reads == 1, "another connection's release woke the paused one")
        for connection in [filler, holder, empty] {
            _ = try connection.channel.finish()
        }
        #expect(server.used == 0)
    }

    @Test("a peer that does not read what we write gets no more of its requests read")
    func unwritablePauses() throws {
        let connection = try GatedChannel(connectionLimit: 100, server: ServerReadBudget(limit: 1000))
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        connection.askToRead()
        #expect(connection.counter.reads == 0)
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(connection.counter.reads == 1)
        _ = try connection.channel.finish()
    }

    @Test("releasing more than is held cannot drive the count negative")
    func overRelease() throws {
        let server = ServerReadBudget(limit: 1000)
        let connection = try GatedChannel(connectionLimit: 100, server: server)
        try connection.receive(10)
        connection.release(50)
        #expect(server.used == 0)
        _ = try connection.channel.finish()
        #expect(server.used == 0)
    }
}

@Suite("Frame decoder memory")
struct FrameDecoderMemoryTests {
    @Test("after a large frame the decoder's buffer is copied small, not kept at its peak")
    func compactsAfterLargeFrame() throws {
        var decoder = FrameDecoder(maximumFrameBytes: 1 << 20, limits: .defaults)
        let big = RawConnection.frameBytes(AuthV1.Frame(kind: .request, callID: 1, method: "/x/y", payload: Array(repeating: 1, count: 300_000)))
        let next = RawConnection.frameBytes(AuthV1.Frame(kind: .cancel, callID: 1))
        var buffer = ByteBuffer(bytes: big + next.prefix(3))
        #expect(buffer.capacity >= 300_000)
        let received = try decoder.decode(buffer: &buffer)
        #expect(received?.wireBytes == big.count)
        #expect(buffer.readableBytes == 3)
        #expect(buffer.capacity < FrameDecoder.compactionThreshold)
        buffer.writeBytes(next.dropFirst(3))
        #expect(try decoder.decode(buffer: &buffer)?.frame == AuthV1.Frame(kind: .cancel, callID: 1))
    }

    @Test("an envelope over its limits is undecodable, naming the field")
    func envelopeLimits() throws {
        var decoder = FrameDecoder(maximumFrameBytes: 1 << 20, limits: DecodingLimits(maximumElements: 2))
        let frame = AuthV1.Frame(kind: .request, callID: 1, method: "/x/y", metadata: ["a": "1", "b": "2", "c": "3"])
        var buffer = ByteBuffer(bytes: RawConnection.frameBytes(frame))
        #expect {
            _ = try decoder.decode(buffer: &buffer)
        } throws: { error in
            guard case .undecodable(let decoding) = error as? FrameError else { return false }
            return decoding.field == "metadata" && decoding.detail.contains("more than 2 entries")
        }
    }
}

@Suite("Rate-limited logging")
struct RateLimitedLogTests {
    private func makeLog(linesPerSecond: Int) -> (RateLimitedLog, InMemoryLogHandler, ManualClock) {
        let handler = InMemoryLogHandler()
        let clock = ManualClock()
        let logger = Logger(label: "test.rate", factory: { _ in handler })
        return (RateLimitedLog(logger: logger, linesPerSecond: linesPerSecond, clock: { clock.now }), handler, clock)
    }

    @Test("a few lines a second per peer pass, the rest are counted and reported once")
    func perPeer() {
        let (log, handler, clock) = makeLog(linesPerSecond: 5)
        for index in 0..<12 {
            log.log(.info, key: "192.0.2.1", "bad frame \(index)")
        }
        for index in 0..<3 {
            log.log(.info, key: "192.0.2.2", "bad frame \(index)")
        }
        #expect(handler.entries.count == 8, "5 of the first peer's lines and all 3 of the second's")

        log.flush()
        #expect(handler.entries.count == 8, "the second is not over: nothing to report yet")
        clock.advance(by: .milliseconds(1500))
        log.flush()
        let report = handler.entries.last
        #expect(report?.message == "suppressed 7 similar log lines")
        #expect(report?.metadata["about"] == "192.0.2.1")
        #expect(report?.level == .info)
        log.flush()
        #expect(handler.entries.count == 9, "a count is reported once")

        log.log(.info, key: "192.0.2.1", "bad frame again")
        #expect(handler.entries.last?.message == "bad frame again", "a new second lets lines through again")
    }

    @Test("a line in a new second reports the count of the last one first")
    func reportBeforeNextLine() {
        let (log, handler, clock) = makeLog(linesPerSecond: 1)
        log.log(.warning, key: "k", "one")
        log.log(.warning, key: "k", "two")
        clock.advance(by: .seconds(1))
        log.log(.warning, key: "k", "three")
        #expect(handler.entries.map(\.message.description) == ["one", "suppressed 1 similar log lines", "three"])
        #expect(handler.entries[1].level == .warning)
    }

    @Test("failed accepts are logged once a second, with the count of the rest")
    func acceptErrors() throws {
        let (log, handler, clock) = makeLog(linesPerSecond: 1)
        let channel = EmbeddedChannel(handler: AcceptErrorLogger(log: log))
        for _ in 0..<50 {
            channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        }
        #expect(handler.entries.count == 1)
        #expect(handler.entries.first?.level == .error)
        #expect(handler.entries.first?.message.description.contains("out of file descriptors") == true)
        clock.advance(by: .milliseconds(1100))
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(handler.entries.count == 3)
        #expect(handler.entries[1].message == "suppressed 49 similar log lines")
        _ = try channel.finish()
    }
}
