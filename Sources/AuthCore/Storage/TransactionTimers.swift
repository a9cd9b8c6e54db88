public import CoreMetrics

/// `authd_db_transaction_duration_seconds` by kind of transaction, for every store. A store
/// holds one only with a metrics factory; without, it records nothing and reads no clock:
///
///     let started = timers?.now()
///     defer { timers?.record(.read, since: started) }
public struct TransactionTimers: Sendable {
    public enum Kind: Sendable {
        case read
        /// The token check's read, which a store may run on a path of its own.
        case tokenRead
        case write
    }

    private let read: CoreMetrics.Timer
    private let tokenRead: CoreMetrics.Timer
    private let write: CoreMetrics.Timer

    public init(factory: any MetricsFactory) {
        func timer(_ kind: String) -> CoreMetrics.Timer {
            CoreMetrics.Timer(label: "authd_db_transaction_duration_seconds", dimensions: [("kind", kind)], factory: factory)
        }
        read = timer("read")
        tokenRead = timer("token_read")
        write = timer("write")
    }

    public func now() -> ContinuousClock.Instant {
        .now
    }

    public func record(_ kind: Kind, since started: ContinuousClock.Instant?) {
        guard let started else { return }
        let elapsed = (ContinuousClock.now - started).components
        let nanoseconds = elapsed.seconds &* 1_000_000_000 &+ elapsed.attoseconds / 1_000_000_000
        switch kind {
        case .read: read.recordNanoseconds(nanoseconds)
        case .tokenRead: tokenRead.recordNanoseconds(nanoseconds)
        case .write: write.recordNanoseconds(nanoseconds)
        }
    }
}
