import Synchronization

/// A value read from the store once and kept until a change through this process
/// invalidates it: groups, page rules and settings change rarely and are read on
/// every GetMe and AuthorizePage. Only this process writes the database, so its own
/// writes are the only invalidations needed.
final class Cached<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, generation: UInt64)>((nil, 0))

    func value(loading load: () async throws(AuthError) -> Value) async throws(AuthError) -> Value {
        let (cached, generation) = state.withLock { ($0.value, $0.generation) }
        if let cached { return cached }
        let loaded = try await load()
        // A change that raced the load wins: keep the loaded value only if none happened.
        state.withLock { state in
            if state.generation == generation { state.value = loaded }
        }
        return loaded
    }

    func invalidate() {
        state.withLock { state in
            state.value = nil
            state.generation &+= 1
        }
    }
}
