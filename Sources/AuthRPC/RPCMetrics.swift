public import CoreMetrics
import AuthWire
import Synchronization

/// The RPC layer's metrics: calls by method and status code, their latency by method,
/// calls in flight and connections open. Made once per server, with every routed method's
/// metrics made up front, so that a call records into objects it finds by one lookup and
/// never touches the factory's registry.
///
/// Names are in docs/operations.md. Methods nobody routes are counted as "unknown", so that
/// a caller cannot add a series per made-up name.
public final class RPCMetrics: Sendable {
    let callsInFlight: Meter
    let connectionsOpen: Meter
    private let methods: [String: MethodMetrics]
    let unknownMethod: MethodMetrics

    public init(factory: any MetricsFactory, methods: [String]) {
        callsInFlight = Meter(label: "authd_rpc_calls_in_flight", factory: factory)
        connectionsOpen = Meter(label: "authd_rpc_connections_open", factory: factory)
        var byName: [String: MethodMetrics] = [:]
        for method in methods {
            byName[method] = MethodMetrics(method: method, factory: factory)
        }
        self.methods = byName
        unknownMethod = MethodMetrics(method: "unknown", factory: factory)
    }

    func method(_ name: String) -> MethodMetrics {
        methods[name] ?? unknownMethod
    }
}

/// One method's call counter per status code and its latency histogram.
final class MethodMetrics: Sendable {
    private let method: String
    private let factory: any MetricsFactory
    private let latency: Timer
    /// The common case, made up front; the others are made on first use.
    private let ok: Counter
    private let failures = Mutex<[Int32: Counter]>([:])

    init(method: String, factory: any MetricsFactory) {
        self.method = method
        self.factory = factory
        latency = Timer(label: "authd_rpc_call_duration_seconds", dimensions: [("method", method)], factory: factory)
        ok = Counter(label: "authd_rpc_calls_total", dimensions: [("method", method), ("code", "OK")], factory: factory)
    }

    /// A call answered (or ended unanswered) with `code`, `nanoseconds` after its frame was read.
    func record(_ code: RPCError.Code, nanoseconds: Int64?) {
        if let nanoseconds { latency.recordNanoseconds(nanoseconds) }
        if code == .ok {
            ok.increment()
            return
        }
        failures.withLock { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = Counter(
                label: "authd_rpc_calls_total", dimensions: [("method", method), ("code", code.description)], factory: factory)
            counters[code.rawValue] = counter
            return counter
        }.increment()
    }
}
