import Synchronization

/// Who a password hash is for, so that the hashing queue can be fair between them: the
/// end user's address (or, when the caller reports none, the account), or the operator.
public struct HashSource: Hashable, Sendable {
    let key: String
    /// Operators' work (an import of 10 000 passwords) is scheduled fairly like any other
    /// source's but is not held to a source's share: it is authenticated and bounded by
    /// its own requests.
    let isOperator: Bool

    public static func endUser(_ key: String) -> Self { Self(key: key, isOperator: false) }
    public static let `operator` = Self(key: "operator", isOperator: true)
}

/// Limits of the hashing queue: how many hashes may wait, and how many of them one
/// source may hold.
public struct HashQueueLimits: Hashable, Sendable {
    /// Hashes waiting beyond those running; more are refused at once.
    public var maximumWaiting: Int
    /// Hashes one end-user source may have waiting or running; more are refused at once.
    public var maximumPerSource: Int

    public init(maximumWaiting: Int = 32, maximumPerSource: Int = 4) {
        precondition(maximumWaiting >= 1 && maximumPerSource >= 1)
        self.maximumWaiting = maximumWaiting
        self.maximumPerSource = maximumPerSource
    }

    public static var defaults: Self { Self() }
}

/// Admits hashes to the hasher's threads, at most `slots` at once, round-robin between
/// sources: a source with many hashes waiting gets one turn per round like everyone
/// else, so a flood from one address delays another address's login by about one hash,
/// not by the flood. The queue is bounded in total and per source; beyond, `enter`
/// refuses at once with a wait estimate.
final class HashScheduler: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var running = 0
        var waitingCount = 0
        /// Waiting hashes per source, in arrival order.
        var queues: [HashSource: [Waiter]] = [:]
        /// Sources with waiting hashes, in turn order.
        var ring: [HashSource] = []
        /// Waiting or running, per source.
        var held: [HashSource: Int] = [:]
        var nextID: UInt64 = 0
        /// Exponential moving average of one hash, for the retry hint.
        var averageHash: Duration = .milliseconds(100)
    }

    private let slots: Int
    private let limits: HashQueueLimits
    private let state = Mutex(State())

    init(slots: Int, limits: HashQueueLimits) {
        self.slots = slots
        self.limits = limits
    }

    /// Waits for the source's turn at a free thread. Throws `.queueFull` at once when the
    /// queue or the source's share is full, and `.hashingFailed` when cancelled waiting.
    func enter(_ source: HashSource) async throws(PasswordHashError) {
        enum Admission { case now, wait(UInt64), full(Duration) }
        let admission: Admission = state.withLock { state in
            let held = state.held[source, default: 0]
            if !source.isOperator && held >= limits.maximumPerSource {
                return .full(Self.estimate(state, slots: slots))
            }
            if state.running < slots && state.waitingCount == 0 {
                state.running += 1
                state.held[source] = held + 1
                return .now
            }
            if !source.isOperator && state.waitingCount >= limits.maximumWaiting {
                return .full(Self.estimate(state, slots: slots))
            }
            state.nextID &+= 1
            state.held[source] = held + 1
            return .wait(state.nextID)
        }
        switch admission {
        case .now:
            return
        case .full(let wait):
            throw .queueFull(retryAfter: wait)
        case .wait(let id):
            do {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                        let resumeNow = state.withLock { state -> Bool in
                            if Task.isCancelled {
                                state.held[source, default: 1] -= 1
                                if state.held[source] == 0 { state.held[source] = nil }
                                return true
                            }
                            if state.queues[source] == nil { state.ring.append(source) }
                            state.queues[source, default: []].append(Waiter(id: id, continuation: continuation))
                            state.waitingCount += 1
                            return false
                        }
                        if resumeNow { continuation.resume(throwing: CancellationError()) }
                        // A slot may have freed between admission and queueing.
                        self.dispatch()
                    }
                } onCancel: {
                    self.cancel(id, of: source)
                }
            } catch {
                throw .hashingFailed("cancelled while waiting for a hashing thread")
            }
        }
    }

    /// Frees the caller's thread and hands it to the next source in turn.
    func leave(_ source: HashSource, took duration: Duration) {
        state.withLock { state in
            state.running -= 1
            state.held[source, default: 1] -= 1
            if state.held[source] == 0 { state.held[source] = nil }
            let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
            let old = Double(state.averageHash.components.seconds) * 1000 + Double(state.averageHash.components.attoseconds) / 1e15
            state.averageHash = .milliseconds(Int64((old * 0.8 + ms * 0.2).rounded()))
        }
        dispatch()
    }

    /// How many hashes are waiting, for metrics and tests.
    var waiting: Int { state.withLock { $0.waitingCount } }

    private func dispatch() {
        while let next = state.withLock({ state -> Waiter? in
            guard state.running < slots, !state.ring.isEmpty else { return nil }
            let source = state.ring.removeFirst()
            var queue = state.queues[source]!
            let waiter = queue.removeFirst()
            if queue.isEmpty {
                state.queues[source] = nil
            } else {
                state.queues[source] = queue
                state.ring.append(source)  // its next hash waits for the others' turns
            }
            state.waitingCount -= 1
            state.running += 1
            return waiter
        }) {
            next.continuation.resume()
        }
    }

    private func cancel(_ id: UInt64, of source: HashSource) {
        let waiter = state.withLock { state -> Waiter? in
            guard var queue = state.queues[source], let index = queue.firstIndex(where: { $0.id == id }) else { return nil }
            let waiter = queue.remove(at: index)
            if queue.isEmpty {
                state.queues[source] = nil
                state.ring.removeAll { $0 == source }
            } else {
                state.queues[source] = queue
            }
            state.waitingCount -= 1
            state.held[source, default: 1] -= 1
            if state.held[source] == 0 { state.held[source] = nil }
            return waiter
        }
        waiter?.continuation.resume(throwing: CancellationError())
    }

    private static func estimate(_ state: State, slots: Int) -> Duration {
        let ahead = state.waitingCount + state.running
        return state.averageHash * max(1, (ahead + slots - 1) / slots)
    }
}
