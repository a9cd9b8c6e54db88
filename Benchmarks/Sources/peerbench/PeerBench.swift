import ArgumentParser
import AuthV1GRPC
import Foundation
import NIOCore
import NIOPosix
import PeerWire

/// The peer harness of issue 13 (`make bench-peers`): authd's token check against a bare
/// SwiftNIO echo of the same framing and against the same GetMe over grpc-swift-2, driven by
/// the same closed-loop client in the same run, rounds alternating between the stacks.
@main
struct PeerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peerbench",
        abstract: "authd side by side with a bare NIO echo and grpc-swift-2 (docs/benchmarks.md)."
    )

    enum Stack: String, CaseIterable, ExpressibleByArgument {
        /// bench-echo-server: GetMe request frames sent back as they came.
        case echo
        /// authd Health/Check (service ""): the transport and router alone.
        case health
        /// authd Auth/GetMe with a valid token: the token check.
        case getme
        /// authd Auth/AuthorizePage on a group-gated path, valid token, user in the group.
        case authorize
        /// bench-grpc-server: GetMe over grpc-swift-2, in-memory token map.
        case grpc
        /// The same three calls against a second authd binary (--authd-b), e.g. an older build.
        case healthB = "health-b"
        case getmeB = "getme-b"
        case authorizeB = "authorize-b"

        /// The stacks run when no --stacks is given.
        static let standard: [Stack] = [.echo, .health, .getme, .authorize, .grpc]

        var title: String {
            switch self {
            case .echo: "NIO echo (GetMe-request frames)"
            case .health: "authd Health/Check"
            case .getme: "authd Auth/GetMe"
            case .authorize: "authd Auth/AuthorizePage (gated)"
            case .grpc: "grpc-swift-2 GetMe (unary, HTTP/2)"
            case .healthB: "authd-b Health/Check"
            case .getmeB: "authd-b Auth/GetMe"
            case .authorizeB: "authd-b Auth/AuthorizePage (gated)"
            }
        }
    }

    @Option(help: "The authd release binary.")
    var authd = "../.build/release/authd"

    @Option(help: "The bench-echo-server binary.")
    var echoServer = ".build/release/bench-echo-server"

    @Option(help: "The bench-grpc-server binary.")
    var grpcServer = ".build/release/bench-grpc-server"

    @Option(help: "Comma-separated connections x calls in flight per connection.")
    var configs = "1x1,4x16,16x64"

    @Option(help: "Comma-separated stacks, in the order each round runs them: \(Stack.allCases.map(\.rawValue).joined(separator: ",")).")
    var stacks = Stack.standard.map(\.rawValue).joined(separator: ",")

    @Option(help: "Rounds per configuration; each round runs every stack once.")
    var rounds = 3

    @Option(help: "Seconds measured per stack per round.")
    var duration = 5.0

    @Option(help: "Seconds of load before each measured window.")
    var warmup = 1.0

    @Option(help: "Event loop threads of the framed load client (default: one per core).")
    var clientThreads = System.coreCount

    @Option(help: "authd's scrypt log N (low: the password is only hashed during setup).")
    var scryptLogN = 10

    @Option(help: "A second authd binary (e.g. an older commit's build), measured as the *-b stacks.")
    var authdB: String?

    @Option(help: "Extra authd arguments, space-separated.")
    var authdArguments = ""

    func run() async throws {
        let configurations = try configs.split(separator: ",").map { text in
            let parts = text.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts[0] >= 1, parts[1] >= 1 else {
                throw ValidationError("--configs: '\(text)' is not CxD")
            }
            return (connections: parts[0], depth: parts[1])
        }
        let order = try stacks.split(separator: ",").map { name in
            guard let stack = Stack(rawValue: String(name)) else { throw ValidationError("--stacks: unknown stack '\(name)'") }
            return stack
        }

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("peerbench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: clientThreads)

        var servers: [ServerProcess] = []
        defer { for server in servers { server.stop() } }

        let database = work + "/bench.sqlite"
        let authdServer = try ServerProcess(
            name: "authd",
            executable: authd,
            arguments: ["--port", "0", "--database", database, "--log-level", "warning",
                        "--scrypt-log-n", String(scryptLogN), "--scrypt-r", "8", "--scrypt-p", "1"]
                + authdArguments.split(separator: " ").map(String.init),
            workDirectory: work
        )
        servers.append(authdServer)
        let fixture = try await AuthdFixture.make(group: group, port: authdServer.port, adminKeyFile: database + ".admin-key")

        var authdBServer: ServerProcess?
        var fixtureB: AuthdFixture?
        if let path = self.authdB {
            let database = work + "/bench-b.sqlite"
            let server = try ServerProcess(
                name: "authd-b",
                executable: path,
                arguments: ["--port", "0", "--database", database, "--log-level", "warning",
                            "--scrypt-log-n", String(scryptLogN), "--scrypt-r", "8", "--scrypt-p", "1"]
                    + authdArguments.split(separator: " ").map(String.init),
                workDirectory: work
            )
            servers.append(server)
            authdBServer = server
            fixtureB = try await AuthdFixture.make(group: group, port: server.port, adminKeyFile: database + ".admin-key")
        } else if order.contains(where: { [.healthB, .getmeB, .authorizeB].contains($0) }) {
            throw ValidationError("the *-b stacks need --authd-b")
        }

        let echo = try ServerProcess(name: "echo", executable: echoServer, arguments: ["--port", "0"], workDirectory: work)
        servers.append(echo)
        var grpc: ServerProcess?
        if order.contains(.grpc) {
            let server = try ServerProcess(
                name: "grpc",
                executable: grpcServer,
                arguments: ["--port", "0", "--token", fixture.token, "--response-hex", fixture.getMeResponse.hex],
                workDirectory: work
            )
            servers.append(server)
            grpc = server
        }

        print("# peerbench \(date()) on \(System.coreCount) cores, load average \(loadAverage())")
        print("# authd \(authd) (pid \(authdServer.pid)), echo (pid \(echo.pid))\(grpc.map { ", grpc (pid \($0.pid))" } ?? "")"
            + (authdBServer.map { ", authd-b \(self.authdB ?? "") (pid \($0.pid))" } ?? ""))
        print("# \(rounds) rounds x \(format(duration, 1)) s after \(format(warmup, 1)) s warm-up; client: \(clientThreads) event loop thread(s)")
        print("# frame sizes (body, without the 4-byte prefix): GetMe request \(fixture.getMe.bodySize(callID: 1000)) B,"
            + " GetMe response payload \(fixture.getMeResponse.count) B, Health request \(fixture.health.bodySize(callID: 1000)) B")

        var summary: [(String, Stack, [Measurement])] = []
        for configuration in configurations {
            let label = "\(configuration.connections) x \(configuration.depth)"
            print("\n## \(label): rounds alternate \(order.map(\.rawValue).joined(separator: " / "))")
            let header: [String] = [
                pad("round", 5), "  ", pad("stack", 12, right: false), pad("calls/s", 10), pad("p50 ms", 9),
                pad("p99 ms", 9), pad("p99.9 ms", 9), pad("errors", 7), pad("srv CPU us", 11), pad("cli CPU us", 11), "  load",
            ]
            print(header.joined())
            var byStack: [Stack: [Measurement]] = [:]
            for round in 1...rounds {
                for stack in order {
                    let measurement: Measurement
                    switch stack {
                    case .grpc:
                        measurement = try await GRPCLoad(
                            host: "127.0.0.1", port: grpc!.port, connections: configuration.connections,
                            depth: configuration.depth, token: fixture.token
                        ).run(warmupNanos: nanos(warmup), windowNanos: nanos(duration), server: grpc!)
                    default:
                        let (template, check, server): (RequestTemplate, ResponseCheck, ServerProcess) =
                            switch stack {
                            case .echo: (fixture.getMe, .ok, echo)
                            case .health: (fixture.health, .ok, authdServer)
                            case .getme: (fixture.getMe, .ok, authdServer)
                            case .authorize: (fixture.authorize, .allowed, authdServer)
                            case .healthB: (fixtureB!.health, .ok, authdBServer!)
                            case .getmeB: (fixtureB!.getMe, .ok, authdBServer!)
                            default: (fixtureB!.authorize, .allowed, authdBServer!)
                            }
                        measurement = try await FramedLoad(
                            group: group, host: "127.0.0.1", port: server.port,
                            connections: configuration.connections, depth: configuration.depth,
                            template: template, check: check
                        ).run(warmupNanos: nanos(warmup), windowNanos: nanos(duration), server: server)
                    }
                    byStack[stack, default: []].append(measurement)
                    let row: [String] = [
                        pad(String(round), 5), "  ", pad(stack.rawValue, 12, right: false),
                        pad(format(measurement.callsPerSecond), 10), pad(format(measurement.milliseconds(50), 3), 9),
                        pad(format(measurement.milliseconds(99), 3), 9), pad(format(measurement.milliseconds(99.9), 3), 9),
                        pad(String(measurement.errors), 7), pad(format(measurement.cpuPerCall, 1), 11),
                        pad(format(measurement.clientCPUPerCall, 1), 11), "  ", loadAverage(),
                        measurement.firstError.map { "  first error: \($0)" } ?? "",
                    ]
                    print(row.joined())
                    fflush(nil)
                    try await Task.sleep(nanoseconds: 300_000_000)
                }
            }
            for stack in order { summary.append((label, stack, byStack[stack] ?? [])) }
        }

        print("\n## Summary: median calls/s of the rounds; latency over all rounds' calls; CPU = utime+stime of the server (and of this client) in the windows / calls")
        print("")
        print("| C × D | stack | calls/s (median) | min–max | p50 ms | p99 ms | p99.9 ms | errors | server CPU µs/call | client CPU µs/call | × echo | × grpc |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

        for (label, stack, measurements) in summary {
            var merged = Measurement()
            var cpu = 0.0, clientCPU = 0.0
            for measurement in measurements {
                merged.merge(measurement)
                cpu += measurement.serverCPUMicroseconds
                clientCPU += measurement.clientCPUMicroseconds
            }
            let rates = measurements.map(\.callsPerSecond).sorted()
            let median = rates.isEmpty ? 0 : rates[rates.count / 2]
            let echoMedian = PeerBench.median(of: label, .echo, in: summary)
            let grpcMedian = PeerBench.median(of: label, .grpc, in: summary)
            let ratio = echoMedian > 0 ? format(median / echoMedian, 3) : "—"
            let grpcRatio = grpcMedian > 0 ? format(median / grpcMedian, 1) : "—"
            let cells = [
                label, stack.title, format(median), "\(format(rates.first ?? 0))–\(format(rates.last ?? 0))",
                format(merged.milliseconds(50), 3), format(merged.milliseconds(99), 3), format(merged.milliseconds(99.9), 3),
                String(merged.errors), format(merged.calls > 0 ? cpu / Double(merged.calls) : 0, 1),
                format(merged.calls > 0 ? clientCPU / Double(merged.calls) : 0, 1), ratio, grpcRatio,
            ]
            print("| " + cells.joined(separator: " | ") + " |")
        }
        print("\n# load average at the end: \(loadAverage())")
        fflush(nil)
        try await group.shutdownGracefully()
    }

    static func median(of label: String, _ stack: Stack, in summary: [(String, Stack, [Measurement])]) -> Double {
        let rates = summary.first { $0.0 == label && $0.1 == stack }?.2.map(\.callsPerSecond).sorted() ?? []
        return rates.isEmpty ? 0 : rates[rates.count / 2]
    }

    private func nanos(_ seconds: Double) -> UInt64 { UInt64(seconds * 1e9) }

    private func date() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}

/// What the benchmark needs on authd, made through its real Admin and Auth APIs: two roles,
/// a group needing both, a page rule gating `/premium/*` to that group, a user holding both
/// roles with a password, and a session token from Login.
struct AuthdFixture {
    let token: String
    let getMe: RequestTemplate
    let health: RequestTemplate
    let authorize: RequestTemplate
    /// authd's GetMeResponse for `token`: what the grpc server answers with.
    let getMeResponse: [UInt8]

    static let gatedPath = "/premium/reports/42"

    static func make(group: any EventLoopGroup, port: Int, adminKeyFile: String) async throws -> AuthdFixture {
        let key = try String(contentsOfFile: adminKeyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = try await SetupClient(group: group, host: "127.0.0.1", port: port)
        func admin(_ method: String, _ build: (inout ProtoWriter) -> Void) async throws {
            var writer = ProtoWriter()
            build(&writer)
            _ = try await client.call("/auth.v1.Admin/\(method)", writer.bytes, apiKey: key)
        }
        for role in ["Premium", "Editor"] {
            try await admin("CreateRole") { $0.string(1, role) }
        }
        try await admin("CreateGroup") {
            $0.string(1, "PremiumEditors")
            $0.strings(2, ["Premium", "Editor"])
        }
        try await admin("SetPageRule") {
            $0.message(1) { rule in
                rule.string(1, "/premium/*")
                rule.uint(2, 3)  // PAGE_ACCESS_GROUPS
                rule.strings(3, ["PremiumEditors"])
            }
        }
        let email = "bench@example.com", password = "benchmark password"
        try await admin("CreateUser") {
            $0.string(1, email)
            $0.map(2, [("name", "Bench User"), ("image", "https://example.com/bench.png")])
            $0.message(3) { $0.string(1, password) }
            $0.strings(5, ["Premium", "Editor"])
        }
        var login = ProtoWriter()
        login.string(1, email)
        login.string(2, password)
        let loginResponse = try Auth_V1_LoginResponse(serializedBytes: try await client.call("/auth.v1.Auth/Login", login.bytes))
        let token = loginResponse.session.token
        guard !token.isEmpty else { throw HarnessError("Login gave no session token") }

        var getMe = ProtoWriter()
        getMe.string(1, token)
        let getMeResponse = try await client.call("/auth.v1.Auth/GetMe", getMe.bytes)
        let me = try Auth_V1_GetMeResponse(serializedBytes: getMeResponse)
        guard me.user.groups.contains("PremiumEditors") else {
            throw HarnessError("the benchmark user is not in the gated group: \(me.user)")
        }
        var authorize = ProtoWriter()
        authorize.string(1, token)
        authorize.string(2, gatedPath)
        let decision = try Auth_V1_AuthorizePageResponse(
            serializedBytes: try await client.call("/auth.v1.Auth/AuthorizePage", authorize.bytes)
        )
        guard decision.allowed, decision.matchedRule == "/premium/*" else {
            throw HarnessError("AuthorizePage \(gatedPath) was not allowed by /premium/*: \(decision)")
        }
        await client.close()
        return AuthdFixture(
            token: token,
            getMe: RequestTemplate(method: "/auth.v1.Auth/GetMe", payload: getMe.bytes),
            health: RequestTemplate(method: "/auth.v1.Health/Check", payload: []),
            authorize: RequestTemplate(method: "/auth.v1.Auth/AuthorizePage", payload: authorize.bytes),
            getMeResponse: getMeResponse
        )
    }
}

extension [UInt8] {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
