import AuthdTesting
import Testing
@testable import AuthCore

@Suite("Outbox: retry policy and request checks")
struct OutboxPolicyTests {
    @Test func retryDelaysDoubleFromTheBaseWithJitterInTheUpperHalfAndAreCapped() {
        let policy = MailPolicy(baseRetryDelay: .seconds(30), maximumRetryDelay: .seconds(3600))
        for attempts in 1...12 {
            let ceiling = min(Duration.seconds(30) * (1 << (attempts - 1)), .seconds(3600))
            for _ in 0..<50 {
                let delay = policy.retryDelay(afterAttempts: attempts)
                #expect(delay >= ceiling / 2 && delay < ceiling, "attempt \(attempts): \(delay)")
            }
        }
        // Attempt 0 (never happens) waits like the first; huge counts stay at the cap.
        #expect(policy.retryDelay(afterAttempts: 0) < .seconds(30))
        #expect(policy.retryDelay(afterAttempts: 10_000) >= .seconds(1800))
    }

    @Test func aFailureIsReportedWithThePolicyAndRetriesFromNow() async throws {
        let store = RecordingOutboxStore()
        let clock = ManualWallClock(t0)
        let policy = MailPolicy(maximumAttempts: 3, baseRetryDelay: .seconds(10), maximumRetryDelay: .seconds(60))
        let outbox = Outbox(storage: store, clock: clock, policy: policy)
        let lease = LeaseReference(id: 1, leaseToken: "t")
        _ = try await outbox.reportFailure(lease, permanent: false, reason: String(repeating: "x", count: 5000))
        let report = try #require(await store.reports.first)
        #expect(report.maximumAttempts == 3)
        #expect(report.permanent == false)
        #expect(report.reason.count == 2000)
        for (index, at) in report.retryAt.enumerated() {
            let ceiling = min(Duration.seconds(10) * (1 << index), .seconds(60))
            #expect(at >= t0 + ceiling / 2 && at < t0 + ceiling, "attempt \(index + 1)")
        }
    }

    @Test func aStaleLeaseIsAFailedPrecondition() async throws {
        let store = RecordingOutboxStore()
        await store.answerFailures(with: .stale)
        let outbox = Outbox(storage: store, clock: ManualWallClock(t0))
        let error = await #expect(throws: AuthError.self) {
            _ = try await outbox.reportFailure(LeaseReference(id: 9, leaseToken: "old"), permanent: true, reason: "550")
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.field == "message")
    }

    @Test func leaseRequestsAreCheckedAndDefaulted() async throws {
        let store = RecordingOutboxStore()
        let outbox = Outbox(storage: store, clock: ManualWallClock(t0))
        _ = try await outbox.lease(workerID: "  worker-1 ", batchSize: 0, leaseSeconds: 0)
        _ = try await outbox.lease(workerID: "w", batchSize: 500, leaseSeconds: 3600)
        let requests = await store.leaseRequests
        #expect(requests.map(\.workerID) == ["worker-1", "w"])
        #expect(requests.map(\.limit) == [50, 500])
        #expect(requests.map(\.leaseUntil) == [t0 + .seconds(60), t0 + .seconds(3600)])
        #expect(requests.map(\.maximumAttempts) == [8, 8])

        for (worker, batch, seconds, field) in [
            ("", 0, 0, "worker_id"), (String(repeating: "w", count: 129), 0, 0, "worker_id"),
            ("w", 501, 0, "batch_size"), ("w", -1, 0, "batch_size"),
            ("w", 0, 3601, "lease_seconds"), ("w", 0, -5, "lease_seconds"),
        ] {
            let error = await #expect(throws: AuthError.self) {
                _ = try await outbox.lease(workerID: worker, batchSize: batch, leaseSeconds: seconds)
            }
            #expect(error?.field == field)
        }
        #expect(await store.leaseRequests.count == 2)
    }
}
