import ArgumentParser
import AuthClient
import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// The load-test client: drives one call over loopback from many connections with a
/// fixed number of calls in flight each, and reports throughput and latency percentiles.
@main
struct AuthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authbench",
        abstract: "Load-test an authd server."
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        /// Health/Check: the transport alone.
        case health
        /// Auth/GetMe with a valid token: the token check.
        case getme
        /// Auth/Login with the right password: bound by password hashing.
        case login
    }

    @Option(help: "Server address.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port = 7400

    @Option(help: "What to call: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: Workload = .health

    @Option(help: "Connections.")
    var connections = 4

    @Option(help: "Calls in flight per connection.")
    var concurrency = 16

    @Option(help: "Seconds to measure.")
    var duration = 10

    @Option(help: "Seconds to run before measuring.")
    var warmup = 2

    @Option(help: "Password of the benchmark user (getme, login).")
    var password = "benchmark password"

    mutating func validate() throws {
        guard connections >= 1, concurrency >= 1, duration >= 1, warmup >= 0 else {
            throw ValidationError("--connections, --concurrency and --duration must be at least 1, --warmup at least 0")
        }
    }

    func run() async throws {
        let clients = (0..<connections).map { _ in AuthdClient(host: host, port: port) }
        let call = try await prepare(clients[0])
        // Connect every client before the clock starts.
        for client in clients { _ = try await client.health.check(HealthCheckRequest()) }

        let clock = ContinuousClock()
        let warmupEnd = clock.now + .seconds(warmup)
        let end = warmupEnd + .seconds(duration)
        let results = try await withThrowingTaskGroup(of: WorkerResult.self) { group in
            for client in clients {
                for _ in 0..<concurrency {
                    group.addTask {
                        var result = WorkerResult()
                        while true {
                            let started = clock.now
                            if started >= end { break }
                            let failed: Bool
                            do {
                                try await call(client)
                                failed = false
                            } catch {
                                failed = true
                            }
                            let finished = clock.now
                            if started >= warmupEnd && finished <= end {
                                result.record(nanoseconds: (finished - started).nanoseconds, failed: failed)
                            }
                        }
                        return result
                    }
                }
            }
            var total = WorkerResult()
            for try await result in group { total.merge(result) }
            return total
        }
        for client in clients { await client.close() }
        report(results)
    }

    /// Makes whatever the workload needs (a user, a token) and returns one call.
    private func prepare(_ client: AuthdClient) async throws -> @Sendable (AuthdClient) async throws -> Void {
        switch workload {
        case .health:
            return { client in _ = try await client.health.check(HealthCheckRequest()) }
        case .getme, .login:
            var generator = SystemRandomNumberGenerator()
            let email = "bench-\(generator.next() as UInt64)@example.com"
            let signedUp = try await client.auth.signUp(SignUpRequest(email: email, password: password, attributes: ["name": "Bench"]))
            let token = signedUp.session?.token ?? ""
            let password = self.password
            if workload == .getme {
                return { client in _ = try await client.auth.getMe(GetMeRequest(token: token)) }
            }
            return { client in _ = try await client.auth.login(LoginRequest(email: email, password: password)) }
        }
    }

    private func report(_ result: WorkerResult) {
        let seconds = Double(duration)
        let calls = result.histogram.totalCount
        func ms(_ percentile: Double) -> String {
            let microseconds = result.histogram.valueAtPercentile(percentile) / 1000
            let fraction = String(microseconds % 1000)
            return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
        print("workload      \(workload.rawValue)")
        print("connections   \(connections) x \(concurrency) in flight")
        print("duration      \(duration) s after \(warmup) s warm-up")
        print("calls         \(calls) (\(result.failures) failed)")
        print("throughput    \(Int((Double(calls) / seconds).rounded())) calls/s")
        print("latency ms    p50 \(ms(50))  p90 \(ms(90))  p99 \(ms(99))  p99.9 \(ms(99.9))  max \(ms(100))")
    }
}

struct WorkerResult: Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var failures = 0

    mutating func record(nanoseconds: Int64, failed: Bool) {
        _ = histogram.record(UInt64(max(1, nanoseconds)))
        if failed { failures += 1 }
    }

    mutating func merge(_ other: Self) {
        histogram.add(other.histogram)
        failures += other.failures
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
