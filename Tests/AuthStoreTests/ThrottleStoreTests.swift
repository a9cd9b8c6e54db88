import AuthCore
import AuthdTesting
import Testing

@Suite("ThrottleStore")
struct ThrottleStoreTests {
    @Test(arguments: storeKinds)
    func failuresCountWithinAWindowAndRestartAfterIt(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func parallelFailuresAreAllCounted(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
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

    @Test(arguments: storeKinds)
    func deleteThrottlesTakesOnlyIdleCounters(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let idle = ThrottleKey(.loginAccount, "idle@example.com")
            let busy = ThrottleKey(.loginAddress, "203.0.113.7")
            _ = try await store.recordFailure(key: idle, window: .seconds(3600), at: t0)
            _ = try await store.recordFailure(key: busy, window: .seconds(3600), at: t0)
            _ = try await store.recordFailure(key: busy, window: .seconds(3600), at: t0 + .seconds(100))

            #expect(try await store.deleteThrottles(idleSince: t0) == 0)
            #expect(try await store.deleteThrottles(idleSince: t0 + .seconds(100)) == 1)
            #expect(try await store.throttle(key: idle) == nil)
            #expect(try await store.throttle(key: busy)?.failures == 2)
            #expect(try await store.deleteThrottles(idleSince: t0 + .seconds(101)) == 1)
            #expect(try await store.throttle(key: busy) == nil)
            #expect(try await store.deleteThrottles(idleSince: t0 + .seconds(101)) == 0)
        }
    }
}
