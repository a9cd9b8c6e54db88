import ArgumentParser
import AuthClient
import AuthCrypto
import AuthdVersion
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
        abstract: "Load-test an authd server.",
        version: AuthdVersion.description
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        /// Health/Check: the transport alone.
        case health
        /// Auth/GetMe with a valid token: the token check.
        case getme
        /// Auth/Login with the right password: bound by password hashing.
        case login
        /// No server: one scrypt hash at a time on this thread, for the hashing bound
        /// (cores ÷ time of one hash) that login throughput is measured against.
        case scrypt
    }

    @Option(help: "Server address.")
    var host = "127.0.0.1"

    @Option(help: "Server port; repeated, the connections are spread over the ports in turn (instances behind no balancer).")
    var port: [Int] = [7400]

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

    @Option(help: "scrypt N = 2^log-n for --workload scrypt (match the server's --scrypt-log-n).")
    var scryptLogN = ScryptParameters.owasp.logN

    @Option(help: "PEM CAs that sign the server's certificate; any --tls-* option turns TLS on.")
    var tlsCa: String?

    @Option(help: "PEM client certificate, for a server that asks for one.")
    var tlsCert: String?

    @Option(help: "PEM private key of the client certificate.")
    var tlsKey: String?

    @Option(help: "The name the server's certificate must carry (default: --host).")
    var tlsServerName: String?

    @Flag(help: "A new connection for every call, closed after it: the cost of connecting (and of the TLS handshake).")
    var freshConnections = false

    var clientConfiguration: ClientConfiguration {
        guard tlsCa != nil || tlsCert != nil || tlsKey != nil || tlsServerName != nil else { return .defaults }
        return ClientConfiguration(tls: ClientTLSConfiguration(
            trustRootsFile: tlsCa, certificateChainFile: tlsCert, privateKeyFile: tlsKey, serverName: tlsServerName))
    }

    mutating func validate() throws {
        guard !port.isEmpty, port.allSatisfy({ (1...65535).contains($0) }) else {
            throw ValidationError("--port must be 1 to 65535")
        }
        guard connections >= 1, concurrency >= 1, duration >= 1, warmup >= 0 else {
            throw ValidationError("--connections, --concurrency and --duration must be at least 1, --warmup at least 0")
        }
    }

    func run() async throws {
        if workload == .scrypt {
            try measureScrypt()
            return
        }
        let (host, ports, configuration, fresh) = (self.host, self.port, clientConfiguration, freshConnections)
        let clients = (0..<connections).map { AuthdClient(host: host, port: ports[$0 % ports.count], configuration: configuration) }
        let calls = try await prepare(clients[0], workers: connections * concurrency)
        // Connect every client before the clock starts.
        for client in clients { _ = try await client.health.check(AuthV1.HealthCheckRequest()) }

        let clock = ContinuousClock()
        let warmupEnd = clock.now + .seconds(warmup)
        let end = warmupEnd + .seconds(duration)
        let results = try await withThrowingTaskGroup(of: WorkerResult.self) { group in
            for (index, client) in clients.enumerated() {
                let port = ports[index % ports.count]
                for slot in 0..<concurrency {
                    let call = calls[index * concurrency + slot]
                    group.addTask {
                        var result = WorkerResult()
                        while true {
                            let started = clock.now
                            if started >= end { break }
                            let failed: Bool
                            do {
                                if fresh {
                                    let once = AuthdClient(host: host, port: port, configuration: configuration)
                                    do {
                                        try await call(once)
                                    } catch {
                                        await once.close()
                                        throw error
                                    }
                                    await once.close()
                                } else {
                                    try await call(client)
                                }
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

    /// Makes whatever the workload needs (a user, a token) and returns the call of each
    /// worker. Login gives every worker an account of its own: logins of one account
    /// take turns (the per-account throttle's order), so one shared account would
    /// measure that queue rather than the server.
    private func prepare(_ client: AuthdClient, workers: Int) async throws -> [@Sendable (AuthdClient) async throws -> Void] {
        switch workload {
        case .health, .scrypt:
            return Array(repeating: { client in _ = try await client.health.check(AuthV1.HealthCheckRequest()) }, count: workers)
        case .getme:
            let (_, token) = try await signUp(client)
            return Array(repeating: { client in _ = try await client.auth.getMe(AuthV1.GetMeRequest(token: token)) }, count: workers)
        case .login:
            let password = self.password
            var calls: [@Sendable (AuthdClient) async throws -> Void] = []
            for _ in 0..<workers {
                let (email, _) = try await signUp(client)
                calls.append { client in _ = try await client.auth.login(AuthV1.LoginRequest(email: email, password: password)) }
            }
            return calls
        }
    }

    /// A new benchmark user: its email and its session's token.
    private func signUp(_ client: AuthdClient) async throws -> (email: String, token: String) {
        var generator = SystemRandomNumberGenerator()
        let email = "bench-\(generator.next() as UInt64)@example.com"
        let signedUp = try await client.auth.signUp(AuthV1.SignUpRequest(email: email, password: password, attributes: ["name": "Bench"]))
        return (email, signedUp.session?.token ?? "")
    }

    private func measureScrypt() throws {
        let parameters = try ScryptParameters(logN: scryptLogN, r: 8, p: 1)
        let clock = ContinuousClock()
        let salt = SecureRandom.bytes(16)
        _ = try PasswordHasher.scrypt(password: Array(password.utf8), salt: salt, parameters: parameters, length: 32)
        let end = clock.now + .seconds(duration)
        var hashes = 0
        let started = clock.now
        while clock.now < end {
            _ = try PasswordHasher.scrypt(password: Array(password.utf8), salt: salt, parameters: parameters, length: 32)
            hashes += 1
        }
        let elapsed = clock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let perHash = milliseconds / Double(hashes)
        let cores = PasswordHasher.defaultThreadCount
        print("workload      scrypt \(parameters) on one thread")
        print("hashes        \(hashes) in \(Int(milliseconds)) ms: \(fixed(perHash, 2)) ms each")
        print("bound         \(cores) cores / \(fixed(perHash, 2)) ms = \(fixed(Double(cores) * 1000 / perHash, 1)) hashes/s")
    }

    private func report(_ result: WorkerResult) {
        let seconds = Double(duration)
        let calls = result.histogram.totalCount
        func ms(_ percentile: Double) -> String {
            fixed(Double(result.histogram.valueAtPercentile(percentile)) / 1_000_000, 3)
        }
        print("workload      \(workload.rawValue)")
        print("connections   \(connections) x \(concurrency) in flight")
        print("duration      \(duration) s after \(warmup) s warm-up")
        print("calls         \(calls) (\(result.failures) failed)")
        // Answered calls only: a refusal (a full hashing queue, say) is fast, and would
        // otherwise pass for throughput.
        print("throughput    \(fixed(Double(calls - UInt64(result.failures)) / seconds, 1)) calls/s answered")
        print("latency ms    p50 \(ms(50))  p90 \(ms(90))  p99 \(ms(99))  p99.9 \(ms(99.9))  max \(ms(100))")
    }
}

/// `value` with `decimals` digits after the point (no Foundation here).
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * Double(scale)).rounded())
    let whole = String(scaled / scale)
    guard decimals > 0 else { return whole }
    let fraction = String(scaled % scale)
    return whole + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
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
