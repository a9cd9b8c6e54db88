import NIOCore
import Synchronization
import Logging

/// Bytes read from every connection's socket and not yet done with, against the server-wide
/// limit. Connections paused by it register to be woken when another connection releases.
final class ServerReadBudget: Sendable {
    let limit: Int

    private struct State {
        var used = 0
        var waiters: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    var used: Int {
        state.withLock { $0.used }
    }

    func add(_ bytes: Int) {
        state.withLock { $0.used += bytes }
    }

    func release(_ bytes: Int) {
        let woken = state.withLock { state -> [@Sendable () -> Void] in
            state.used -= bytes
            guard state.used < limit, !state.waiters.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for wake in woken {
            wake()
        }
    }

    /// Whether the budget is used up; if it is, `wake` runs once, after a release brings it
    /// under the limit. Checking and registering under one lock loses no wake-up.
    func isExhausted(waiter: ObjectIdentifier, wake: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.used >= limit else { return false }
            state.waiters[waiter] = wake
            return true
        }
    }

    func stopWaiting(_ waiter: ObjectIdentifier) {
        _ = state.withLock { $0.waiters.removeValue(forKey: waiter) }
    }
}

/// NIO back-pressure for a connection's memory: holds back `read()` (so the socket is not
/// read and the peer's TCP window fills) instead of buffering more, while
///
/// - the connection holds `connectionLimit` bytes read and not released (a frame being
///   received and the requests of its calls in flight), or
/// - the server as a whole holds its `ServerReadBudget` and this connection holds any, or
/// - the peer does not read what we write (the channel is not writable).
///
/// A connection holding nothing may always read, so that while big frames wait for room,
/// small calls on other connections go on. First handler of the pipeline: it sees the raw bytes.
final class ReadBudgetHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connectionLimit: Int
    private let server: ServerReadBudget
    private let log: RateLimitedLog
    private var context: ChannelHandlerContext?
    /// Bytes read and not released.
    private(set) var held = 0
    /// NIO asked for a read that this handler has not passed on.
    private(set) var readHeld = false

    init(connectionLimit: Int, server: ServerReadBudget, log: RateLimitedLog) {
        self.connectionLimit = connectionLimit
        self.server = server
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        releaseAll()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        releaseAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        held += count
        server.add(count)
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if mayRead(context) {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeIfAllowed()
        context.fireChannelWritabilityChanged()
    }

    /// Gives back `count` bytes the connection is done with; reading resumes if it may.
    /// Called by the `ServerConnectionHandler` behind it, on the same event loop.
    func release(_ count: Int) {
        let count = min(count, held)
        held -= count
        server.release(count)
        resumeIfAllowed()
    }

    private func mayRead(_ context: ChannelHandlerContext) -> Bool {
        guard context.channel.isWritable else { return false }
        guard held > 0 else { return true }
        guard held < connectionLimit else { return false }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let exhausted = server.isExhausted(waiter: ObjectIdentifier(self)) {
            loopBound.eventLoop.execute { loopBound.value.resumeIfAllowed() }
        }
        if exhausted {
            log.log(
                .notice,
                key: "read-budget",
                "server-wide read budget of \(server.limit) bytes reached: connections holding bytes pause their reads"
            )
        }
        return !exhausted
    }

    private func resumeIfAllowed() {
        guard readHeld, let context, mayRead(context) else { return }
        readHeld = false
        context.read()
    }

    private func releaseAll() {
        server.stopWaiting(ObjectIdentifier(self))
        server.release(held)
        held = 0
    }
}
