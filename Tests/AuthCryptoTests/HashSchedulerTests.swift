@testable import AuthCrypto
import Synchronization
import Testing

/// Records the order in which sources got a thread.
private final class Grants: Sendable {
    private let order = Mutex<[String]>([])
    func record(_ name: String) { order.withLock { $0.append(name) } }
    var all: [String] { order.withLock { $0 } }
}

private func waitUntil(_ condition: @escaping () -> Bool) async {
    for _ in 0..<2000 where !condition() {
        try? await Task.sleep(for: .milliseconds(1))
    }
}

@Suite("The hashing queue: bounded and fair")
struct HashSchedulerTests {
    @Test("a source with many hashes waiting gets one turn per round, so another source is next")
    func roundRobin() async throws {
        let scheduler = HashScheduler(slots: 1, limits: HashQueueLimits(maximumWaiting: 10, maximumPerSource: 10))
        let flood = HashSource.endUser("address:198.51.100.1"), user = HashSource.endUser("address:192.0.2.7")
        try await scheduler.enter(flood)  // holds the only thread
        let grants = Grants()
        var tasks: [Task<Void, any Error>] = []
        for index in 1...3 {
            tasks.append(Task {
                try await scheduler.enter(flood)
                grants.record("flood\(index)")
                scheduler.leave(flood, took: .milliseconds(1))
            })
            await waitUntil { scheduler.waiting == index }
        }
        tasks.append(Task {
            try await scheduler.enter(user)
            grants.record("user")
            scheduler.leave(user, took: .milliseconds(1))
        })
        await waitUntil { scheduler.waiting == 4 }
        scheduler.leave(flood, took: .milliseconds(1))
        for task in tasks { try await task.value }
        #expect(grants.all == ["flood1", "user", "flood2", "flood3"])
    }

    @Test("beyond a source's share or the queue's bound, a hash is refused at once with a wait")
    func bounds() async throws {
        let scheduler = HashScheduler(slots: 1, limits: HashQueueLimits(maximumWaiting: 3, maximumPerSource: 2))
        let a = HashSource.endUser("a"), b = HashSource.endUser("b"), c = HashSource.endUser("c")
        try await scheduler.enter(a)  // running: a holds 1
        let queued = Task { try await scheduler.enter(a) }  // a holds 2
        await waitUntil { scheduler.waiting == 1 }
        await #expect(throws: PasswordHashError.self) { try await scheduler.enter(a) }  // a's share is full
        let b1 = Task { try await scheduler.enter(b) }
        let b2 = Task { try await scheduler.enter(b) }
        await waitUntil { scheduler.waiting == 3 }
        do {
            try await scheduler.enter(c)
            Issue.record("admitted beyond the queue's bound")
        } catch {
            guard case .queueFull(let wait) = error else { Issue.record("\(error)"); return }
            #expect(wait > .zero)
        }
        // The operator is scheduled too, but not held to the bounds.
        let op = Task { try await scheduler.enter(.operator) }
        await waitUntil { scheduler.waiting == 4 }
        for source in [a, a, b, b, HashSource.operator] {
            scheduler.leave(source, took: .milliseconds(1))
            await Task.yield()
        }
        try await queued.value
        try await b1.value
        try await b2.value
        try await op.value
        #expect(scheduler.waiting == 0)
    }

    @Test("a hash cancelled while waiting leaves the queue and takes no thread")
    func cancelWhileWaiting() async throws {
        let scheduler = HashScheduler(slots: 1, limits: .defaults)
        let a = HashSource.endUser("a")
        try await scheduler.enter(a)
        let waiting = Task { try await scheduler.enter(a) }
        await waitUntil { scheduler.waiting == 1 }
        waiting.cancel()
        await #expect(throws: PasswordHashError.self) { try await waiting.value }
        #expect(scheduler.waiting == 0)
        scheduler.leave(a, took: .milliseconds(1))
        try await scheduler.enter(a)  // the thread is free again
        scheduler.leave(a, took: .milliseconds(1))
    }
}
