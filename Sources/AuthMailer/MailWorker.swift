public import AuthClient
public import Logging
import AuthLogging
import Synchronization

/// Settings of the worker loop.
public struct MailWorkerConfiguration: Sendable {
    /// Names this worker in the server's lease records and in logs.
    public var workerID: String
    /// Messages leased at once (the server caps it at 500).
    public var batchSize: Int
    /// How long a lease holds; renewed when a batch takes more than half of it.
    public var leaseSeconds: Int
    /// Wait before asking again when the queue was empty.
    public var pollInterval: Duration
    /// Sent messages acknowledged in one call, at most.
    public var ackBatchSize: Int
    /// A sent message waits at most this long for its acknowledgement.
    public var ackDelay: Duration
    /// Longest wait between attempts to reach an unreachable authd.
    public var maximumBackoff: Duration

    public init(
        workerID: String,
        batchSize: Int = 50,
        leaseSeconds: Int = 60,
        pollInterval: Duration = .seconds(1),
        ackBatchSize: Int = 100,
        ackDelay: Duration = .seconds(1),
        maximumBackoff: Duration = .seconds(10)
    ) {
        self.workerID = workerID
        self.batchSize = batchSize
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.ackBatchSize = ackBatchSize
        self.ackDelay = ackDelay
        self.maximumBackoff = maximumBackoff
    }
}

/// What the worker did, for its exit log line and for tests.
public struct MailWorkerCounts: Sendable, Hashable {
    public var sent = 0
    public var retried = 0
    public var dead = 0
    public var released = 0
    /// Acknowledgements or failure reports the server refused because the lease had lapsed.
    public var stale = 0

    public init() {}
}

/// The worker refuses to go on: the key is wrong or lacks the mailer scope.
public struct MailWorkerError: Error, Sendable, CustomStringConvertible {
    public var error: RPCError
    public var description: String { "authd refused the mailer key: \(error)" }
}

/// Drains the outbox: lease a batch, send each message through the transport, acknowledge
/// the sent ones in batches, report failures (transient → the server retries later,
/// permanent → dead). A failing message only costs its own attempt; the rest of the batch
/// goes on. `stop()` makes the loop stop leasing, finish the message in progress,
/// acknowledge what was sent and release what it still holds.
public final class MailWorker: Sendable {
    public let configuration: MailWorkerConfiguration
    private let outbox: any OutboxClient
    private let transport: any MailTransport
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let counters = Mutex(MailWorkerCounts())

    public init(configuration: MailWorkerConfiguration, outbox: any OutboxClient, transport: any MailTransport, logger: Logger) {
        self.configuration = configuration
        self.outbox = outbox
        self.transport = transport
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
    }

    /// Asks the loop to finish; `run()` returns once the current message is done and the
    /// batch is acknowledged and released. Safe from any thread.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    public var isStopping: Bool {
        stopping.load(ordering: .relaxed) || Task.isCancelled
    }

    public var counts: MailWorkerCounts {
        counters.withLock { $0 }
    }

    /// Runs until `stop()` (or task cancellation). Throws only when authd refuses the key.
    public func run() async throws(MailWorkerError) {
        logger.info("mailer started", metadata: [
            "batch-size": "\(configuration.batchSize)", "lease-seconds": "\(configuration.leaseSeconds)",
        ])
        var failedLeases = 0
        while !isStopping {
            let leasedAt = ContinuousClock.now
            let batch: [AuthV1.OutboxMessage]
            do {
                batch = try await outbox.lease(
                    workerID: configuration.workerID,
                    batchSize: configuration.batchSize,
                    leaseSeconds: configuration.leaseSeconds)
                if failedLeases > 0 { logger.info("authd reachable again") }
                failedLeases = 0
            } catch {
                if error.code == .unauthenticated || error.code == .permissionDenied {
                    throw MailWorkerError(error: error)
                }
                failedLeases += 1
                let wait = backoff(failedLeases)
                logger.warning("lease failed; trying again", metadata: ["error": "\(error)", "wait": "\(wait)"])
                await pause(wait)
                continue
            }
            if batch.isEmpty {
                await pause(configuration.pollInterval)
                continue
            }
            await process(batch, leasedAt: leasedAt)
        }
        let counts = self.counts
        logger.info("mailer stopped", metadata: [
            "sent": "\(counts.sent)", "retried": "\(counts.retried)", "dead": "\(counts.dead)",
            "released": "\(counts.released)", "stale": "\(counts.stale)",
        ])
    }

    /// 0.25 s, 0.5 s, 1 s … up to `maximumBackoff`.
    func backoff(_ failures: Int) -> Duration {
        let exponent = min(failures - 1, 16)
        return min(.milliseconds(250) * (1 << exponent), configuration.maximumBackoff)
    }

    /// Sleeps for `duration`, waking early when the worker is asked to stop.
    private func pause(_ duration: Duration) async {
        let end = ContinuousClock.now + duration
        while !isStopping {
            let left = end - ContinuousClock.now
            if left <= .zero { return }
            try? await Task.sleep(for: min(left, .milliseconds(50)))
        }
    }

    private func count(_ update: (inout MailWorkerCounts) -> Void) {
        counters.withLock { update(&$0) }
    }

    private func process(_ batch: [AuthV1.OutboxMessage], leasedAt: ContinuousClock.Instant) async {
        var pending = batch[...]
        var unacknowledged: [AuthV1.LeasedMessage] = []
        var oldestUnacknowledged = ContinuousClock.now
        var leaseStart = leasedAt
        let renewAfter = Duration.seconds(configuration.leaseSeconds) / 2

        while let message = pending.first, !isStopping {
            if ContinuousClock.now - leaseStart >= renewAfter {
                await acknowledge(&unacknowledged)
                let renewedAt = ContinuousClock.now
                do {
                    let stale = Set(try await outbox.renew(pending.map(\.leased), leaseSeconds: configuration.leaseSeconds))
                    if !stale.isEmpty {
                        logger.warning("lease lapsed; leaving messages to whoever holds them now", metadata: [
                            "ids": "\(stale.sorted())",
                        ])
                        count { $0.stale += stale.count }
                        pending = pending.filter { !stale.contains($0.id) }[...]
                    }
                    leaseStart = renewedAt
                } catch {
                    // Try again in a second; meanwhile keep sending on the lease we have.
                    leaseStart = renewedAt - renewAfter + .seconds(1)
                    logger.warning("lease renewal failed", metadata: ["error": "\(error)"])
                }
                continue
            }
            pending.removeFirst()
            do {
                try await transport.send(message)
                logger.info("sent", metadata: [
                    "id": "\(message.id)", "message-id": "\(message.messageID)", "to": Redaction.email(message.to, at: .info),
                    "attempt": "\(message.attempt)",
                ])
                logger.debug("sent to", metadata: ["id": "\(message.id)", "to": Redaction.email(message.to, at: .debug)])
                count { $0.sent += 1 }
                if unacknowledged.isEmpty { oldestUnacknowledged = ContinuousClock.now }
                unacknowledged.append(message.leased)
            } catch {
                await report(message, error)
            }
            if unacknowledged.count >= configuration.ackBatchSize
                || (!unacknowledged.isEmpty && ContinuousClock.now - oldestUnacknowledged >= configuration.ackDelay) {
                await acknowledge(&unacknowledged)
            }
        }
        await acknowledge(&unacknowledged)
        if !pending.isEmpty {
            await release(pending.map(\.leased))
        }
    }

    private func report(_ message: AuthV1.OutboxMessage, _ failure: DeliveryFailure) async {
        let reason = String(failure.reason.prefix(1000))
        var metadata: Logger.Metadata = [
            "id": "\(message.id)", "message-id": "\(message.messageID)", "to": Redaction.email(message.to, at: .info),
            "attempt": "\(message.attempt)", "reason": "\(reason)",
        ]
        do {
            let answer = try await outbox.reportFailure(message.leased, permanent: failure.permanent, reason: reason)
            if answer.dead {
                count { $0.dead += 1 }
                metadata["permanent"] = "\(failure.permanent)"
                logger.error("dead: not sending again unless requeued", metadata: metadata)
            } else {
                count { $0.retried += 1 }
                metadata["retry-at-ms"] = "\(answer.retryAtMs)"
                logger.warning("failed; will retry", metadata: metadata)
            }
        } catch {
            if error.code == .failedPrecondition { count { $0.stale += 1 } }
            metadata["report-error"] = "\(error)"
            logger.warning("failed, and the failure could not be reported; the lease will lapse and it will be retried", metadata: metadata)
        }
    }

    /// Acknowledges `messages` (a few tries: they were sent, and an acknowledgement lost
    /// means a duplicate later) and empties the list.
    private func acknowledge(_ messages: inout [AuthV1.LeasedMessage]) async {
        guard !messages.isEmpty else { return }
        defer { messages.removeAll(keepingCapacity: true) }
        for attempt in 1...3 {
            do {
                let stale = try await outbox.acknowledge(messages)
                if !stale.isEmpty {
                    count { $0.stale += stale.count }
                    logger.warning("sent after the lease lapsed; another worker may send these again", metadata: [
                        "ids": "\(stale)",
                    ])
                }
                return
            } catch {
                logger.warning("acknowledgement failed", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                if attempt < 3 { try? await Task.sleep(for: .milliseconds(200 * attempt)) }
            }
        }
        logger.error("gave up acknowledging; these will be sent again when their lease lapses", metadata: [
            "ids": "\(messages.map(\.id))",
        ])
    }

    private func release(_ messages: [AuthV1.LeasedMessage]) async {
        do {
            let stale = try await outbox.release(messages)
            count { $0.released += messages.count - stale.count }
            logger.info("released unsent messages", metadata: ["count": "\(messages.count - stale.count)"])
        } catch {
            logger.warning("release failed; the leases will lapse", metadata: [
                "error": "\(error)", "count": "\(messages.count)",
            ])
        }
    }
}
