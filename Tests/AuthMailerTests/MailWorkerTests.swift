import AuthClient
import Logging
import Synchronization
import Testing

@testable import AuthMailer

/// An in-memory stand-in for the Mail service: hands out its messages once, records
/// every acknowledgement, failure report and release.
actor FakeOutbox: OutboxClient {
    var waiting: [AuthV1.OutboxMessage]
    var acknowledged: [UInt64] = []
    var failures: [(id: UInt64, permanent: Bool, reason: String)] = []
    var released: [UInt64] = []
    var renewals = 0
    let batchSize: Int

    init(count: Int, batchSize: Int = 100, recipient: @Sendable (Int) -> String = { "user\($0)@example.com" }) {
        waiting = (1...count).map { index in
            AuthV1.OutboxMessage(
                id: UInt64(index), leaseToken: "lease-\(index)", messageID: "<\(index)@authd>",
                from: "authd <no-reply@example.com>", to: recipient(index), subject: "Hi", textBody: "Body \(index)",
                attempt: 1)
        }
        self.batchSize = batchSize
    }

    func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(RPCError) -> [AuthV1.OutboxMessage] {
        let batch = Array(waiting.prefix(min(batchSize, self.batchSize)))
        waiting.removeFirst(batch.count)
        return batch
    }

    func acknowledge(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64] {
        acknowledged += messages.map(\.id)
        return []
    }

    func reportFailure(_ message: AuthV1.LeasedMessage, permanent: Bool, reason: String) async throws(RPCError) -> AuthV1.ReportFailureResponse {
        failures.append((message.id, permanent, reason))
        return permanent ? AuthV1.ReportFailureResponse(dead: true) : AuthV1.ReportFailureResponse(retryAtMs: 1)
    }

    func renew(_ messages: [AuthV1.LeasedMessage], leaseSeconds: Int) async throws(RPCError) -> [UInt64] {
        renewals += 1
        return []
    }

    func release(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64] {
        released += messages.map(\.id)
        return []
    }
}

/// Fails recipients that start with "temp" (transient) or "perm" (permanent); calls
/// `afterSend` after every attempt.
final class FakeTransport: MailTransport {
    let sent = Mutex<[UInt64]>([])
    let afterSend: @Sendable (Int) -> Void

    init(afterSend: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.afterSend = afterSend
    }

    func send(_ message: AuthV1.OutboxMessage) async throws(DeliveryFailure) {
        let attempts = sent.withLock { sent in
            sent.append(message.id)
            return sent.count
        }
        defer { afterSend(attempts) }
        if message.to.hasPrefix("temp") { throw DeliveryFailure(permanent: false, reason: "SMTP 451: try later") }
        if message.to.hasPrefix("perm") { throw DeliveryFailure(permanent: true, reason: "SMTP 550: no such user") }
    }
}

@Suite struct MailWorkerTests {
    func configuration(batchSize: Int = 10) -> MailWorkerConfiguration {
        MailWorkerConfiguration(workerID: "test", batchSize: batchSize, leaseSeconds: 60, pollInterval: .milliseconds(5))
    }

    /// Runs the worker until the queue has nothing left, then stops it.
    func drain(_ queue: FakeOutbox, _ transport: FakeTransport, batchSize: Int = 10) async throws -> MailWorker {
        let worker = MailWorker(configuration: configuration(batchSize: batchSize), outbox: queue, transport: transport, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            while await !queue.waiting.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(50))
            worker.stop()
            try await group.waitForAll()
        }
        return worker
    }

    @Test func acknowledgesEverySentMessage() async throws {
        let queue = FakeOutbox(count: 35)
        let worker = try await drain(queue, FakeTransport())
        #expect(await queue.acknowledged.sorted() == Array(1...35))
        #expect(await queue.failures.isEmpty)
        #expect(worker.counts.sent == 35)
    }

    @Test func oneBadMessageNeverStallsTheBatch() async throws {
        let queue = FakeOutbox(count: 20) { index in
            switch index {
            case 3: "temp@example.com"
            case 7: "perm@example.com"
            default: "ok\(index)@example.com"
            }
        }
        let worker = try await drain(queue, FakeTransport())
        #expect(await queue.acknowledged.sorted() == (1...20).filter { $0 != 3 && $0 != 7 }.map(UInt64.init))
        let failures = await queue.failures
        #expect(failures.map(\.id) == [3, 7])
        #expect(failures.map(\.permanent) == [false, true])
        #expect(failures[1].reason.contains("550"))
        #expect(worker.counts.retried == 1 && worker.counts.dead == 1)
    }

    @Test func stopFinishesTheCurrentMessageAndReleasesTheRest() async throws {
        let queue = FakeOutbox(count: 10)
        let box = Mutex<MailWorker?>(nil)
        let transport = FakeTransport { attempts in
            if attempts == 4 { box.withLock { $0?.stop() } }
        }
        let worker = MailWorker(configuration: configuration(), outbox: queue, transport: transport, logger: quiet)
        box.withLock { $0 = worker }
        try await worker.run()
        #expect(await queue.acknowledged == [1, 2, 3, 4])
        #expect(await queue.released == [5, 6, 7, 8, 9, 10])
        #expect(worker.counts.released == 6)
    }

    @Test func anInvalidMessageIsAPermanentFailureOfItsOwn() async throws {
        let queue = FakeOutbox(count: 3) { $0 == 2 ? "not an address" : "u\($0)@example.com" }
        let directory = "/tmp/authmailer-tests-\(UInt64.random(in: 0...UInt64.max))"
        let files = FileTransport(directory: directory)
        try files.prepare()
        let worker = MailWorker(configuration: configuration(), outbox: queue, transport: files, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            while await queue.acknowledged.count + queue.failures.count < 3 { try await Task.sleep(for: .milliseconds(5)) }
            worker.stop()
            try await group.waitForAll()
        }
        #expect(await queue.acknowledged.sorted() == [1, 3])
        #expect(await queue.failures.map(\.permanent) == [true])
    }

    @Test func backoffGrowsAndIsCapped() {
        let worker = MailWorker(configuration: configuration(), outbox: FakeOutbox(count: 1), transport: FakeTransport(), logger: quiet)
        #expect(worker.backoff(1) == .milliseconds(250))
        #expect(worker.backoff(3) == .seconds(1))
        #expect(worker.backoff(30) == .seconds(10))
    }
}

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
