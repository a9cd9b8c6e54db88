import AuthCore
import AuthRPC
import Logging
import ServiceLifecycle

/// The RPC server as a lifecycle service: serves until graceful shutdown, then marks the
/// server draining, lets calls in flight finish and says GOAWAY to every connection.
struct RPCService: Service, CustomStringConvertible {
    var description: String { "RPC server" }

    let server: RPCServer
    let state: ServingState
    let logger: Logger

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            logger.info("shutting down: finishing calls in flight")
            state.beginDraining()
            server.beginGracefulShutdown()
        }
    }
}

/// Prunes what nobody can use any more, at start and then every `interval`, until
/// graceful shutdown.
struct PruningService: Service, CustomStringConvertible {
    var description: String { "pruner" }

    let pruner: Pruner
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let counts = try await pruner.prune()
                if counts.total > 0 {
                    logger.info(
                        "pruned",
                        metadata: [
                            "sent-messages": "\(counts.sentMessages)", "sessions": "\(counts.sessions)",
                            "codes": "\(counts.codes)", "throttles": "\(counts.throttles)",
                        ])
                }
            } catch {
                logger.warning("pruning failed: \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return  // shutting down
            }
        }
    }
}

/// Writes the noted uses of sessions back every second, and once more at shutdown, so
/// that token checks never write on their own path.
struct SessionTouchService: Service {
    let toucher: SessionToucher
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            } catch {
                break  // shutting down: flush once more below
            }
            await flush()
        }
        await flush()
    }

    private func flush() async {
        do {
            try await toucher.flush()
        } catch {
            logger.warning("recording session use failed: \(error)")
        }
    }
}

/// Applies what the other authd processes on the same database announce
/// (`SharedChangeFeed`): their writes are forgotten here as this process's own are.
/// Runs only with a store that several processes share.
struct SharedChangeService: Service, CustomStringConvertible {
    var description: String { "shared changes" }

    let feed: any SharedChangeFeed
    let cache: SessionCache
    let directory: Directory

    func run() async throws {
        let changes = feed.sharedChanges()
        await cancelWhenGracefulShutdown {
            for await change in changes {
                cache.forget(change)
                if change == .directory || change == .everything {
                    await directory.invalidate()
                }
            }
        }
    }
}
