import AuthCore
import AuthdTesting
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: throttles and outbox")
struct ThrottleAndOutboxStorageTests {
    @Test func failuresCountWithinAWindowAndRestartAfterIt() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let key = ThrottleKey(.loginAccount, "ada@example.com")
            let window = Duration.seconds(15 * 60)
            #expect(try await store.throttle(key: key) == nil)

            let first = try await store.recordFailure(key: key, window: window, at: t0)
            #expect(first == ThrottleRecord(failures: 1, windowStartedAt: t0, lastFailureAt: t0))
            _ = try await store.recordFailure(key: key, window: window, at: t0 + .seconds(10))
            let third = try await store.recordFailure(key: key, window: window, at: t0 + window - .milliseconds(1))
            #expect(third == ThrottleRecord(failures: 3, windowStartedAt: t0, lastFailureAt: t0 + window - .milliseconds(1)))
            #expect(try await store.throttle(key: key) == third)

            // The window is [start, start + window): at its end a new one starts.
            let renewed = try await store.recordFailure(key: key, window: window, at: t0 + window)
            #expect(renewed == ThrottleRecord(failures: 1, windowStartedAt: t0 + window, lastFailureAt: t0 + window))

            // Keys are independent.
            let other = try await store.recordFailure(key: ThrottleKey(.loginAddress, "203.0.113.7"), window: window, at: t0)
            #expect(other.failures == 1)
            #expect(try await store.throttle(key: key)?.failures == 1)

            try await store.clearFailures(key: key)
            #expect(try await store.throttle(key: key) == nil)
            #expect(try await store.throttle(key: ThrottleKey(.loginAddress, "203.0.113.7")) == other)
            try await store.clearFailures(key: ThrottleKey(.loginAccount, "never-seen"))
        }
    }

    @Test func parallelFailuresAreAllCounted() async throws {
        try await withSQLiteStorage { store, probe async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        _ = try await store.recordFailure(key: ThrottleKey(.loginAccount, "k"), window: .seconds(60), at: t0 + .milliseconds(Int64(index)))
                    }
                }
                try await group.waitForAll()
            }
            let record = try #require(try await store.throttle(key: ThrottleKey(.loginAccount, "k")))
            #expect(record.failures == 20)
            #expect(record.windowStartedAt.milliseconds >= t0.milliseconds)
        }
    }

    @Test func outboxFiltersByRecipientOldestFirst() async throws {
        try await withSQLiteStorage { store, probe async throws in
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
}
