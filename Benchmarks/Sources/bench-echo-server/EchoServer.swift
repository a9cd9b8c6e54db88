import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import PeerWire

/// The ceiling of the stack: a bare SwiftNIO server of authd's framing (4-byte big-endian
/// length, then the frame) that sends every frame straight back, on as many event loops as
/// cores, flushing once per read batch. Nothing else: no decoding of the envelope, no task.
@main
struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-echo-server",
        abstract: "Echo length-prefixed frames (authd's framing) back to the sender."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free one.")
    var port = 0

    @Option(help: "Event loop threads (default: one per core).")
    var threads = System.coreCount

    func run() throws {
        unblockTermination()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameSlicer()),
                        EchoHandler(),
                    ])
                }
            }
            .bind(host: host, port: port)
            .wait()
        // Scripts wait for this line to learn the port.
        print("bench-echo-server listening on \(host):\(channel.localAddress?.port ?? port)")
        fflush(nil)
        try channel.closeFuture.wait()
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = unwrapInboundIn(data)
        var out = context.channel.allocator.buffer(capacity: 4 + body.readableBytes)
        out.writeInteger(UInt32(body.readableBytes))
        out.writeImmutableBuffer(body)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A process started by Foundation's `Process` inherits its parent's blocked signals: let
/// SIGTERM and SIGINT end this server again (their default action), before any thread starts.
func unblockTermination() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}
