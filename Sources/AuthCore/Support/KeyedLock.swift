/// Runs one body at a time per key, in arrival order: logins for one account check
/// the throttle, verify and record the outcome without a parallel guess slipping
/// between the check and the record. Other keys run concurrently.
actor KeyedLock {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ key: String, _ body: () async throws(AuthError) -> T) async throws(AuthError) -> T {
        await acquire(key)
        do {
            let result = try await body()
            release(key)
            return result
        } catch {
            release(key)
            throw error
        }
    }

    private func acquire(_ key: String) async {
        if waiters[key] == nil {
            waiters[key] = []  // held, nobody waiting
            return
        }
        await withCheckedContinuation { continuation in
            waiters[key]!.append(continuation)
        }
    }

    private func release(_ key: String) {
        guard var queue = waiters[key], !queue.isEmpty else {
            waiters[key] = nil
            return
        }
        let next = queue.removeFirst()
        waiters[key] = queue
        next.resume()  // the lock passes to the next waiter
    }
}
