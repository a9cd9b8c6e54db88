import AuthClient
import AuthCore
import AuthdTesting
import Foundation
import Testing

extension TestAuthd {
    /// A client with a fresh mailer-scope key.
    func mailer() async throws -> AuthdClient {
        let secret = try await adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "mailer \(UUID())", scope: .mailer)).secret
        return client(key: secret)
    }

    /// Queues `count` password-reset emails (one user each).
    func queueMessages(_ count: Int, prefix: String = "mail") async throws {
        for index in 0..<count {
            let email = "\(prefix)\(index)@example.com"
            _ = try await adminClient.admin.createUser(AuthV1.CreateUserRequest(email: email))
            _ = try await client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: email))
        }
    }
}

func held(_ messages: [AuthV1.OutboxMessage]) -> [AuthV1.LeasedMessage] {
    messages.map { AuthV1.LeasedMessage(id: $0.id, leaseToken: $0.leaseToken) }
}

@Suite("Mail service")
struct MailServiceTests {
    @Test("Mail calls need a mailer-scope key")
    func keys() async throws {
        try await withTestAuthd { authd async throws in
            await expectRPCError(.unauthenticated) { try await authd.client.mail.queueStats(AuthV1.QueueStatsRequest()) }
            await expectRPCError(.permissionDenied) { try await authd.adminClient.mail.queueStats(AuthV1.QueueStatsRequest()) }
            _ = try await authd.mailer().mail.queueStats(AuthV1.QueueStatsRequest())
        }
    }

    @Test("lease, acknowledge, and a stale acknowledgement is refused")
    func leaseAndAck() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(3)
            let mailer = try await authd.mailer().mail
            let leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w1", batchSize: 10)).messages
            #expect(leased.count == 3)
            #expect(leased.allSatisfy { $0.attempt == 1 && $0.messageID.hasSuffix("@authd>") && $0.subject == "Your authd verification code" })
            #expect(leased.first?.headers["Auto-Submitted"] == "auto-generated")
            #expect(try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w2")).messages.isEmpty)

            var wrong = held(leased)
            wrong[0].leaseToken = "forged"
            let ack = try await mailer.ackMessages(AuthV1.AckMessagesRequest(messages: wrong))
            #expect(ack.stale == [leased[0].id])
            let stats = try await mailer.queueStats(AuthV1.QueueStatsRequest())
            #expect(stats.sent == 2 && stats.leased == 1 && stats.queued == 0)
            await expectRPCError(.invalidArgument) { try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w1", batchSize: 501)) }
            await expectRPCError(.invalidArgument) { try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: " ")) }
        }
    }

    @Test("a crashed worker's lease expires and the message is leased again; its late ack is stale")
    func leaseExpiry() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(1)
            let mailer = try await authd.mailer().mail
            let first = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "crashes", leaseSeconds: 30)).messages
            authd.clock.advance(by: .seconds(29))
            #expect(try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "other")).messages.isEmpty)
            authd.clock.advance(by: .seconds(1))
            let second = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "other")).messages
            #expect(second.map(\.id) == first.map(\.id))
            #expect(second.first?.attempt == 2)
            #expect(second.first?.messageID == first.first?.messageID)
            #expect(try await mailer.ackMessages(AuthV1.AckMessagesRequest(messages: held(first))).stale == first.map(\.id))
            #expect(try await mailer.ackMessages(AuthV1.AckMessagesRequest(messages: held(second))).stale.isEmpty)
        }
    }

    @Test("workers leasing in parallel never hold the same message")
    func parallelLeases() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(60)
            let mailer = try await authd.mailer().mail
            let batches = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for worker in 0..<12 {
                    group.addTask {
                        try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w\(worker)", batchSize: 7)).messages.map(\.id)
                    }
                }
                return try await group.reduce(into: [[UInt64]]()) { $0.append($1) }
            }
            let all = batches.flatMap { $0 }
            #expect(all.count == 60)
            #expect(Set(all).count == 60)
        }
    }

    @Test("transient failures back off with jitter and die at the limit; permanent ones die at once; dead can be requeued")
    func failures() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(2)
            let mailer = try await authd.mailer().mail
            var leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages
            let poison = leased[0]
            let permanent = try await mailer.reportFailure(AuthV1.ReportFailureRequest(message: held([leased[1]])[0], permanent: true, reason: "550 no such user"))
            #expect(permanent.dead)

            var message = poison
            for attempt in 1...8 {
                #expect(message.attempt == UInt32(attempt))
                let outcome = try await mailer.reportFailure(AuthV1.ReportFailureRequest(message: held([message])[0], reason: "451 try later"))
                if attempt == 8 {
                    #expect(outcome.dead)
                    break
                }
                #expect(!outcome.dead)
                let delay = outcome.retryAtMs - authd.clock.now.milliseconds
                let ceiling = min(30_000 << (attempt - 1), 3_600_000)
                #expect(delay >= Int64(ceiling / 2) && delay <= Int64(ceiling), "attempt \(attempt): \(delay) ms")
                #expect(try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages.isEmpty)
                authd.clock.advance(by: .milliseconds(delay))
                leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages
                message = try #require(leased.first)
            }
            let stats = try await mailer.queueStats(AuthV1.QueueStatsRequest())
            #expect(stats.dead == 2)

            let dead = try await authd.adminClient.admin.listDeadMessages(AuthV1.ListDeadMessagesRequest()).messages
            #expect(dead.count == 2)
            #expect(dead.first { $0.id == poison.id }?.lastError == "451 try later")
            #expect(dead.first { $0.id == poison.id }?.attempts == 8)
            let requeued = try await authd.adminClient.admin.requeueMessages(AuthV1.RequeueMessagesRequest(ids: [poison.id]))
            #expect(requeued.requeued == 1)
            let again = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages
            #expect(again.map(\.id) == [poison.id])
            #expect(again.first?.attempt == 1)
            #expect(try await authd.adminClient.admin.requeueMessages(AuthV1.RequeueMessagesRequest()).requeued == 1)
            let stale = await expectRPCError(.failedPrecondition) {
                try await mailer.reportFailure(AuthV1.ReportFailureRequest(message: AuthV1.LeasedMessage(id: poison.id, leaseToken: "old"), reason: "x"))
            }
            #expect(stale?.message.contains("not leased with this token") == true)
        }
    }

    @Test("a message whose worker dies on it every time is dead after the attempt limit")
    func crashLoop() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(1)
            let mailer = try await authd.mailer().mail
            for attempt in 1...8 {
                let leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "dies", leaseSeconds: 10)).messages
                #expect(leased.first?.attempt == UInt32(attempt))
                authd.clock.advance(by: .seconds(10))
            }
            #expect(try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "next")).messages.isEmpty)
            let dead = try await authd.adminClient.admin.listDeadMessages(AuthV1.ListDeadMessagesRequest()).messages
            #expect(dead.count == 1)
            #expect(dead.first?.lastError == "lease expired after 8 attempts: the worker never reported back")
        }
    }

    @Test("a poison message retries on its own schedule and never stalls the others")
    func poisonDoesNotStall() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(1, prefix: "poison")
            let mailer = try await authd.mailer().mail
            let poison = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages[0]
            _ = try await mailer.reportFailure(AuthV1.ReportFailureRequest(message: held([poison])[0], reason: "timeout"))
            try await authd.queueMessages(5, prefix: "fine")
            let next = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w", batchSize: 10)).messages
            #expect(next.count == 5)
            #expect(!next.contains { $0.id == poison.id })
            #expect(try await mailer.ackMessages(AuthV1.AckMessagesRequest(messages: held(next))).stale.isEmpty)
            let stats = try await mailer.queueStats(AuthV1.QueueStatsRequest())
            #expect(stats.retrying == 1 && stats.sent == 5)
            #expect(stats.oldestQueuedAgeMs >= 0)
        }
    }

    @Test("renew extends a lease; release returns the message at once without counting the attempt")
    func renewAndRelease() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(2)
            let mailer = try await authd.mailer().mail
            let leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w", leaseSeconds: 30)).messages
            authd.clock.advance(by: .seconds(20))
            let renewed = try await mailer.renewLease(AuthV1.RenewLeaseRequest(messages: held([leased[0]]), leaseSeconds: 30))
            #expect(renewed.stale.isEmpty)
            #expect(renewed.leaseExpiresAtMs == authd.clock.now.milliseconds + 30_000)
            authd.clock.advance(by: .seconds(15))
            // leased[1]'s lease (30 s) has expired; leased[0]'s renewed one holds.
            let other = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "other")).messages
            #expect(other.map(\.id) == [leased[1].id])
            let released = try await mailer.releaseMessages(AuthV1.ReleaseMessagesRequest(messages: held(leased)))
            #expect(released.stale == [leased[1].id])
            let again = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "third")).messages
            #expect(again.map(\.id) == [leased[0].id])
            #expect(again.first?.attempt == 1)
        }
    }

    @Test("sent messages are pruned after the retention")
    func pruning() async throws {
        try await withTestAuthd { authd async throws in
            try await authd.queueMessages(2)
            let mailer = try await authd.mailer().mail
            let leased = try await mailer.leaseMessages(AuthV1.LeaseMessagesRequest(workerID: "w")).messages
            _ = try await mailer.ackMessages(AuthV1.AckMessagesRequest(messages: held([leased[0]])))
            let pruner = Pruner(storage: try await authd.openStorage(), clock: authd.clock, retention: .defaults, mail: .defaults)
            #expect(try await pruner.prune().sentMessages == 0)
            authd.clock.advance(by: .seconds(7 * 24 * 3600 + 1))
            #expect(try await pruner.prune().sentMessages == 1)
            #expect(try await mailer.queueStats(AuthV1.QueueStatsRequest()).sent == 0)
        }
    }
}
