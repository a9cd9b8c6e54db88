import AuthV1GRPC
import GRPCCore
import GRPCNIOTransportHTTP2

/// The same closed loop over grpc-swift-2: `connections` clients (one HTTP/2 connection
/// each), each with `depth` tasks making one unary GetMe after another.
struct GRPCLoad {
    let host: String
    let port: Int
    let connections: Int
    let depth: Int
    let token: String

    func run(warmupNanos: UInt64, windowNanos: UInt64, server: ServerProcess) async throws -> Measurement {
        let windowStart = nowNanos() + warmupNanos
        let windowEnd = windowStart + windowNanos
        var request = Auth_V1_GetMeRequest()
        request.token = token
        let message = request
        let host = self.host, port = self.port, depth = self.depth

        return try await withThrowingTaskGroup(of: Measurement?.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    try await withGRPCClient(
                        transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: .plaintext)
                    ) { client in
                        let auth = Auth_V1_Auth.Client(wrapping: client)
                        return await withTaskGroup(of: Measurement.self) { lanes in
                            for _ in 0..<depth {
                                lanes.addTask {
                                    var result = Measurement()
                                    while true {
                                        let started = nowNanos()
                                        if started >= windowEnd { break }
                                        do {
                                            let response = try await auth.getMe(message)
                                            let finished = nowNanos()
                                            if response.user.id.isEmpty {
                                                result.recordError("GetMe answered without a user")
                                            } else if started >= windowStart && finished <= windowEnd {
                                                result.record(latencyNanos: finished - started)
                                            }
                                        } catch {
                                            result.recordError("\(error)")
                                        }
                                    }
                                    return result
                                }
                            }
                            var total = Measurement()
                            for await lane in lanes { total.merge(lane) }
                            return total
                        }
                    }
                }
            }
            group.addTask {
                try await sleep(untilNanos: windowStart)
                var cpu = Measurement()
                cpu.serverCPUMicroseconds = -(try server.cpuMicroseconds())
                cpu.clientCPUMicroseconds = -(try processCPUMicroseconds())
                try await sleep(untilNanos: windowEnd)
                cpu.serverCPUMicroseconds += try server.cpuMicroseconds()
                cpu.clientCPUMicroseconds += try processCPUMicroseconds()
                return cpu
            }
            var total = Measurement()
            for try await part in group {
                guard let part else { continue }
                total.merge(part)
                total.serverCPUMicroseconds += part.serverCPUMicroseconds
                total.clientCPUMicroseconds += part.clientCPUMicroseconds
            }
            total.windowSeconds = Double(windowNanos) / 1e9
            return total
        }
    }
}
