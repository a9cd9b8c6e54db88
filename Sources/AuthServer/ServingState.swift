import Synchronization

/// Whether the server still takes new work. Owned by `AuthdServer`, which flips it when a
/// graceful shutdown begins; the health check (and readiness probes) read it.
final class ServingState: Sendable {
    private let draining = Atomic<Bool>(false)

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }
}
