public import AuthClient
import Dispatch

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

/// Delivers one message at a time. Implementations do their blocking work off Swift's
/// cooperative thread pool.
public protocol MailTransport: Sendable {
    func send(_ message: AuthV1.OutboxMessage) async throws(DeliveryFailure)
}

/// Runs blocking work (libcurl, file system calls) in order on one dedicated dispatch
/// queue, so the cooperative pool never waits on a socket or a disk.
final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
