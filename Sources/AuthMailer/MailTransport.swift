public import AuthClient
internal import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Why a message was not delivered, and whether trying again can help.
public struct DeliveryFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// True when the next attempt would fail the same way (an SMTP 5xx reply, a malformed
    /// address): the message goes dead instead of being retried.
    public var permanent: Bool
    public var reason: String

    public init(permanent: Bool, reason: String) {
        self.permanent = permanent
        self.reason = reason
    }

    public var description: String { "\(permanent ? "permanent" : "transient"): \(reason)" }
}

/// Seconds since the Unix epoch: what transports stamp the Date header with, unless a test
/// gives them another clock.
public enum UnixClock {
    public static func now() -> Int64 {
        Int64(time(nil))
    }
}

/// Delivers one message at a time. Implementations do their blocking work off Swift's
/// cooperative thread pool.
public protocol MailTransport: Sendable {
    func send(_ message: AuthV1.OutboxMessage) async throws(DeliveryFailure)
}

/// Runs blocking work (libcurl, file system calls) in order on one thread of its own, so
/// the cooperative pool never waits on a socket or a disk. A `NIOThreadPool`, as for every
/// blocking job in authd (the password hasher, the store's reads): one mechanism, each
/// pool sized for its work — one thread here, since a transport's work is sequential.
final class BlockingQueue: Sendable {
    private let pool: NIOThreadPool

    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        do {
            return try await pool.runIfActive(work)
        } catch {
            // The pool stops only when the transport is gone; no caller is left then.
            preconditionFailure("the blocking-work thread of a live transport stopped: \(error)")
        }
    }
}
