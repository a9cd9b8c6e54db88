import AuthCore
import CoreMetrics
import Logging

/// The outbox's depth by state and the age of its oldest queued message, read from the
/// database when `/metrics` is scraped: a count that only a query knows, kept out of the
/// calls' path.
struct OutboxGauges: Sendable {
    private let queued: Meter
    private let leased: Meter
    private let retrying: Meter
    private let sent: Meter
    private let dead: Meter
    private let oldestQueuedAge: Meter

    init(factory: any MetricsFactory) {
        func depth(_ state: String) -> Meter {
            Meter(label: "authd_outbox_messages", dimensions: [("state", state)], factory: factory)
        }
        queued = depth("queued")
        leased = depth("leased")
        retrying = depth("retrying")
        sent = depth("sent")
        dead = depth("dead")
        oldestQueuedAge = Meter(label: "authd_outbox_oldest_queued_age_seconds", dimensions: [], factory: factory)
    }

    func refresh(from outbox: Outbox, logger: Logger) async {
        do throws(AuthError) {
            let (statistics, age) = try await outbox.statistics()
            queued.set(statistics.queued)
            leased.set(statistics.leased)
            retrying.set(statistics.retrying)
            sent.set(statistics.sent)
            dead.set(statistics.dead)
            oldestQueuedAge.set(Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18)
        } catch {
            logger.warning("metrics: outbox statistics failed: \(error.message)")
        }
    }
}
