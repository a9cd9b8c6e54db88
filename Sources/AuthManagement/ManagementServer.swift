import Hummingbird
public import Logging
public import Prometheus
public import ServiceLifecycle
internal import NIOCore
internal import Synchronization

/// One readiness check's result, as `/readyz` reports it.
public struct ReadinessCheck: Sendable, Equatable {
    public var name: String
    /// nil when the check passed; otherwise what failed, for the operator.
    public var failure: String?

    public init(name: String, failure: String? = nil) {
        self.name = name
        self.failure = failure
    }
}

/// A named check `/readyz` runs: nil when it passes, else what failed. Checks run side by
/// side, each within `ManagementConfiguration.readinessTimeout`, so a stuck database does
/// not hide that the server is draining.
public struct ReadinessProbe: Sendable {
    public var name: String
    public var check: @Sendable () async -> String?
    /// Whether a check started by an earlier `/readyz` is still waiting (copies share it).
    private let runningBox: RunningFlag

    public init(name: String, check: @escaping @Sendable () async -> String?) {
        self.name = name
        self.check = check
        self.runningBox = RunningFlag()
    }

    /// The check's answer, or a failure once `timeout` has passed: the answer does not wait
    /// for a check stuck behind the database (it goes on in its own task, and no second one
    /// is started while it waits, so stuck checks cannot pile up).
    func answer(within timeout: Duration) async -> String? {
        let flag = runningBox
        guard flag.begin() else { return "the previous check has not answered yet" }
        let once = RunningFlag()
        let check = self.check
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            Task {
                let failure = await check()
                flag.end()
                if once.begin() { continuation.resume(returning: failure) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if once.begin() { continuation.resume(returning: "no answer within \(timeout)") }
            }
        }
    }
}

/// A flag set by the first `begin()` until `end()`.
final class RunningFlag: Sendable {
    private let state = Mutex(false)

    /// True for the caller that set it.
    func begin() -> Bool {
        state.withLock { running in
            guard !running else { return false }
            running = true
            return true
        }
    }

    func end() {
        state.withLock { $0 = false }
    }
}

/// The management HTTP port: `GET /healthz` (the process answers), `GET /readyz` (the
/// given checks pass: 200, else 503 with a JSON body naming the failed ones) and
/// `GET /metrics` (the registry in Prometheus text format).
///
/// Knows no service: the composition root hands it its checks, its registry and what to
/// refresh before a scrape (gauges read from the database). A `Service`: it serves until
/// graceful shutdown; put it first in the service group, so that it is stopped last and
/// `/readyz` answers 503 while the RPC server drains.
public final class ManagementServer: Service, Sendable, CustomStringConvertible {
    public var description: String { "management port" }

    private let configuration: ManagementConfiguration
    private let registry: PrometheusCollectorRegistry
    private let readiness: [ReadinessProbe]
    private let beforeScrape: @Sendable () async -> Void
    private let logger: Logger
    private let bound = Mutex<BoundState>(BoundState())

    private struct BoundState {
        var port: Int?
        var ended = false
        var waiters: [CheckedContinuation<Int?, Never>] = []
    }

    public init(
        configuration: ManagementConfiguration,
        registry: PrometheusCollectorRegistry,
        readiness: [ReadinessProbe],
        beforeScrape: @escaping @Sendable () async -> Void = {},
        logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.readiness = readiness
        self.beforeScrape = beforeScrape
        self.logger = logger
    }

    /// The port listened on, once it is (useful with port 0); nil when the server ended
    /// without binding.
    public func localPort() async -> Int? {
        await withCheckedContinuation { continuation in
            let answer: Int?? = bound.withLock { state in
                if let port = state.port { return .some(port) }
                if state.ended { return .some(nil) }
                state.waiters.append(continuation)
                return .none
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    private func settle(port: Int?) {
        let waiters = bound.withLock { state in
            if let port { state.port = port } else { state.ended = true }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    public func run() async throws {
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            Self.response(.ok, json: #"{"status":"alive"}"#)
        }
        router.get("readyz") { [readiness, configuration] _, _ -> Response in
            let checks = await Self.run(readiness, timeout: configuration.readinessTimeout)
            let ready = checks.allSatisfy { $0.failure == nil }
            return Self.response(ready ? .ok : .serviceUnavailable, json: Self.readinessJSON(checks, ready: ready))
        }
        router.get("metrics") { [registry, beforeScrape] _, _ -> Response in
            await beforeScrape()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16_384)
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
        var serverLogger = logger
        // Hummingbird logs each request at debug; the port's own lines stay at warning and up.
        serverLogger.logLevel = max(logger.logLevel, .notice)
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port
                settle(port: port)
                logger.info("management port listening", metadata: ["address": "\(configuration.host):\(port ?? -1)"])
            },
            logger: serverLogger
        )
        defer { settle(port: nil) }
        try await application.run()
    }

    // MARK: Answers

    private static func response(_ status: HTTPResponse.Status, json: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: json + "\n"))
        )
    }

    /// `{"status":"ready"|"not ready","failed":["draining"],"checks":{"name":"ok"|"why"}}`
    static func readinessJSON(_ checks: [ReadinessCheck], ready: Bool) -> String {
        var json = #"{"status":"# + (ready ? #""ready""# : #""not ready""#)
        json += #","failed":["# + checks.filter { $0.failure != nil }.map { quoted($0.name) }.joined(separator: ",") + "]"
        json += #","checks":{"# + checks.map { "\(quoted($0.name)):\(quoted($0.failure ?? "ok"))" }.joined(separator: ",") + "}}"
        return json
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Every probe at once, each cut off after `timeout`; results in the probes' order.
    static func run(_ probes: [ReadinessProbe], timeout: Duration) async -> [ReadinessCheck] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { (index, await probe.answer(within: timeout)) }
            }
            var failures = [String?](repeating: nil, count: probes.count)
            for await (index, failure) in group { failures[index] = failure }
            return probes.enumerated().map { ReadinessCheck(name: $1.name, failure: failures[$0]) }
        }
    }
}
