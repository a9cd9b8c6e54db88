import AuthCore
import AuthdTesting
import Testing

@Suite("OutboxStore")
struct OutboxStoreTests {

    @Test(arguments: storeKinds)
    func outboxFiltersByRecipientOldestFirst(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let ada = newUser("ada@example.com")
            let bob = newUser("bob@example.com")
            _ = try await store.insertUser(ada, session: nil)
            _ = try await store.insertUser(bob, session: nil)
            #expect(try await probe.outboxMessages(recipient: nil).isEmpty)
            let messages = [
                resetEmail(to: ada.email, at: t0, headers: ["X-A": "1", "X-Quote": "\"quoted\" and \\ backslash"]),
                resetEmail(to: bob.email, at: t0 + .seconds(1)),
                resetEmail(to: ada.email, at: t0 + .seconds(2)),
            ]
            for (index, message) in messages.enumerated() {
                let user = message.recipient == ada.email ? ada.id : bob.id
                try await store.issueCode(
                    resetCode(for: user, hash: randomBytes(), at: t0 + .seconds(Int64(index))), email: message)
            }
            let all = try await probe.outboxMessages(recipient: nil)
            #expect(all.map(\.message) == messages)
            #expect(all.map(\.id) == all.map(\.id).sorted())
            #expect(try await probe.outboxMessages(recipient: ada.email).map(\.message) == [messages[0], messages[2]])
            #expect(try await probe.outboxMessages(recipient: bob.email).map(\.message) == [messages[1]])
            #expect(try await probe.outboxMessages(recipient: "nobody@example.com").isEmpty)
        }
    }

    /// Queues one message per recipient (each with a code for a user of that email), oldest first.
    private func queue(_ store: any Storage, _ recipients: [String]) async throws -> [NewOutboxMessage] {
        var messages: [NewOutboxMessage] = []
        for (index, recipient) in recipients.enumerated() {
            let user = newUser(recipient)
            _ = try await store.insertUser(user, session: nil)
            let email = resetEmail(to: recipient, at: t0 + .seconds(Int64(index)))
            try await store.issueCode(resetCode(for: user.id, hash: randomBytes(), at: email.createdAt), email: email)
            messages.append(email)
        }
        return messages
    }

    private func lease(_ store: any Storage, _ worker: String = "w1", limit: Int = 10, for duration: Duration = .seconds(60), maximumAttempts: Int = 8, at now: Timestamp) async throws -> [OutboxLease] {
        try await store.leaseMessages(
            workerID: worker, limit: limit, leaseUntil: now + duration, maximumAttempts: maximumAttempts, at: now)
    }

    @Test(arguments: storeKinds)
    func leasesHandOutDueMessagesOldestFirstOnce(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let messages = try await queue(store, ["a@example.com", "b@example.com", "c@example.com"])
            let now = t0 + .seconds(10)
            let first = try await lease(store, limit: 2, at: now)
            #expect(first.map(\.message) == Array(messages.prefix(2)))
            #expect(first.allSatisfy { $0.attempt == 1 && $0.leaseExpiresAt == now + .seconds(60) })
            #expect(Set(first.map(\.leaseToken)).count == 2)
            // Held messages are not handed out again while their lease holds.
            let second = try await lease(store, "w2", at: now)
            #expect(second.map(\.message) == [messages[2]])
            #expect(try await lease(store, "w3", at: now + .seconds(59)).isEmpty)
            #expect(try await probe.outboxMessages(recipient: nil).map(\.state) == [.leased, .leased, .leased])
            // A message not yet due is not leased.
            #expect(try await lease(store, limit: 0, at: now).isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func acknowledgedMessagesAreSentAndStaleTokensChangeNothing(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com", "b@example.com"])
            let now = t0 + .seconds(10)
            let leases = try await lease(store, at: now)
            let references = leases.map { LeaseReference(id: $0.id, leaseToken: $0.leaseToken) }
            let forged = LeaseReference(id: leases[1].id, leaseToken: "not-the-token")
            #expect(try await store.acknowledge([references[0], forged], at: now + .seconds(1)) == [leases[1].id])
            #expect(try await store.acknowledge([references[0]], at: now + .seconds(2)) == [leases[0].id])
            #expect(try await probe.outboxMessages(recipient: nil).map(\.state) == [.sent, .leased])
            #expect(try await probe.integer("SELECT sent_at FROM outbox ORDER BY id LIMIT 1") == (now + .seconds(1)).milliseconds)
            let statistics = try await store.queueStatistics(at: now + .seconds(3))
            #expect(statistics == QueueStatistics(queued: 0, leased: 1, sent: 1, retrying: 0, dead: 0, oldestQueuedAt: nil))
        }
    }

    @Test(arguments: storeKinds)
    func anExpiredLeaseIsLeasedAgainWithANewToken(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com"])
            let first = try #require(try await lease(store, at: t0 + .seconds(1)).first)
            let later = first.leaseExpiresAt
            let second = try #require(try await lease(store, "w2", at: later).first)
            #expect(second.id == first.id)
            #expect(second.leaseToken != first.leaseToken)
            #expect(second.attempt == 2)
            // The first worker's token no longer holds: its acknowledgement, renewal and release are stale.
            let old = LeaseReference(id: first.id, leaseToken: first.leaseToken)
            #expect(try await store.acknowledge([old], at: later) == [first.id])
            #expect(try await store.renewLeases([old], until: later + .seconds(60), at: later) == [first.id])
            #expect(try await store.releaseLeases([old], at: later) == [first.id])
            let failure = try await store.reportFailure(
                old, permanent: false, reason: "x", maximumAttempts: 8, retryAt: { _ in later }, at: later)
            #expect(failure == .stale)
        }
    }

    @Test(arguments: storeKinds)
    func renewedLeasesHoldLongerAndReleasedOnesAreDueAtOnceUncounted(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com", "b@example.com"])
            let now = t0 + .seconds(10)
            let leases = try await lease(store, at: now)
            let references = leases.map { LeaseReference(id: $0.id, leaseToken: $0.leaseToken) }
            #expect(try await store.renewLeases([references[0]], until: now + .seconds(300), at: now + .seconds(30)).isEmpty)
            #expect(try await store.releaseLeases([references[1]], at: now + .seconds(30)).isEmpty)
            // At the first lease's old expiry only the released message is due, at attempt 1 again.
            let again = try await lease(store, "w2", for: .seconds(3600), at: now + .seconds(60))
            #expect(again.map(\.id) == [leases[1].id])
            #expect(again.first?.attempt == 1)
            #expect(try await lease(store, "w3", at: now + .seconds(299)).isEmpty)
            #expect(try await lease(store, "w3", at: now + .seconds(300)).map(\.id) == [leases[0].id])
            // A lease that has already expired cannot be renewed.
            let expired = try #require(try await lease(store, "w4", for: .seconds(1), at: now + .seconds(400)).first)
            let reference = LeaseReference(id: expired.id, leaseToken: expired.leaseToken)
            #expect(try await store.renewLeases([reference], until: now + .seconds(999), at: now + .seconds(401)) == [expired.id])
        }
    }

    @Test(arguments: storeKinds)
    func failuresRetryAtTheGivenTimeThenDie(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com", "b@example.com"])
            let now = t0 + .seconds(10)
            let leases = try await lease(store, at: now)
            let transient = LeaseReference(id: leases[0].id, leaseToken: leases[0].leaseToken)
            let permanent = LeaseReference(id: leases[1].id, leaseToken: leases[1].leaseToken)
            let retryAt = now + .seconds(30)
            let outcome = try await store.reportFailure(
                transient, permanent: false, reason: "421 busy", maximumAttempts: 2,
                retryAt: { attempts in attempts == 1 ? retryAt : now }, at: now)
            #expect(outcome == .retry(at: retryAt))
            let dead = try await store.reportFailure(
                permanent, permanent: true, reason: "550 no such user", maximumAttempts: 2, retryAt: { _ in now }, at: now)
            #expect(dead == .dead)
            var statistics = try await store.queueStatistics(at: now)
            #expect(statistics == QueueStatistics(queued: 1, leased: 0, sent: 0, retrying: 1, dead: 1, oldestQueuedAt: t0))

            // Not due before its retry time; at the attempt limit a transient failure kills it too.
            #expect(try await lease(store, at: retryAt - .milliseconds(1)).isEmpty)
            let retried = try #require(try await lease(store, at: retryAt).first)
            #expect(retried.attempt == 2)
            let last = try await store.reportFailure(
                LeaseReference(id: retried.id, leaseToken: retried.leaseToken), permanent: false, reason: "421 busy",
                maximumAttempts: 2, retryAt: { _ in retryAt + .seconds(60) }, at: retryAt)
            #expect(last == .dead)
            statistics = try await store.queueStatistics(at: retryAt)
            #expect(statistics.dead == 2 && statistics.queued == 0)
            let deadMessages = try await store.deadMessages(afterID: nil, limit: 10)
            #expect(deadMessages.map(\.lastError) == ["421 busy", "550 no such user"])
            #expect(deadMessages.map(\.attempts) == [2, 1])
            #expect(deadMessages.map(\.recipient) == ["a@example.com", "b@example.com"])
        }
    }

    @Test(arguments: storeKinds)
    func aLeaseThatExpiresAtTheAttemptLimitIsDeadAtTheNextLease(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com"])
            var now = t0 + .seconds(1)
            for attempt in 1...2 {
                let leased = try #require(try await lease(store, maximumAttempts: 2, at: now).first)
                #expect(leased.attempt == attempt)
                now = leased.leaseExpiresAt  // the worker dies on it
            }
            #expect(try await lease(store, maximumAttempts: 2, at: now).isEmpty)
            let dead = try await store.deadMessages(afterID: nil, limit: 10)
            #expect(dead.count == 1)
            #expect(dead.first?.lastError.contains("never reported back") == true)
        }
    }

    @Test(arguments: storeKinds)
    func deadMessagesPageByIDAndRequeueWithAFreshCount(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com", "b@example.com", "c@example.com"])
            let now = t0 + .seconds(10)
            for leased in try await lease(store, at: now) {
                _ = try await store.reportFailure(
                    LeaseReference(id: leased.id, leaseToken: leased.leaseToken), permanent: true, reason: "550",
                    maximumAttempts: 8, retryAt: { _ in now }, at: now)
            }
            let all = try await store.deadMessages(afterID: nil, limit: 10)
            #expect(all.count == 3)
            #expect(try await store.deadMessages(afterID: nil, limit: 2).map(\.id) == Array(all.prefix(2).map(\.id)))
            #expect(try await store.deadMessages(afterID: all[1].id, limit: 2).map(\.id) == [all[2].id])

            #expect(try await store.requeueDeadMessages(ids: [all[0].id, all[0].id, 999_999], at: now + .seconds(1)) == 1)
            let requeued = try #require(try await lease(store, at: now + .seconds(1)).first)
            #expect(requeued.id == all[0].id)
            #expect(requeued.attempt == 1)
            #expect(try await store.requeueDeadMessages(ids: [], at: now + .seconds(2)) == 2)
            #expect(try await store.deadMessages(afterID: nil, limit: 10).isEmpty)
            #expect(try await store.queueStatistics(at: now + .seconds(2)).queued == 2)
        }
    }

    @Test(arguments: storeKinds)
    func deleteSentMessagesTakesOnlySentOnesBeforeTheCutoff(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await queue(store, ["a@example.com", "b@example.com", "c@example.com", "d@example.com"])
            let now = t0 + .seconds(10)
            let leases = try await lease(store, limit: 3, at: now)
            let references = leases.map { LeaseReference(id: $0.id, leaseToken: $0.leaseToken) }
            #expect(try await store.acknowledge([references[0]], at: now).isEmpty)
            #expect(try await store.acknowledge([references[1]], at: now + .seconds(100)).isEmpty)
            _ = try await store.reportFailure(
                references[2], permanent: true, reason: "550", maximumAttempts: 8, retryAt: { _ in now }, at: now)

            #expect(try await store.deleteSentMessages(sentBefore: now) == 0)
            #expect(try await store.deleteSentMessages(sentBefore: now + .seconds(100)) == 1)
            #expect(try await store.deleteSentMessages(sentBefore: now + .seconds(1000)) == 1)
            // Dead and queued messages stay, whatever their age.
            #expect(try await probe.outboxMessages(recipient: nil).map(\.state) == [.dead, .queued])
        }
    }
}
