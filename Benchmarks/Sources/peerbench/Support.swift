import Foundation
import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds: the one clock every part of the harness reads.
func nowNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func sleep(untilNanos deadline: UInt64) async throws {
    let now = nowNanos()
    if deadline > now { try await Task.sleep(nanoseconds: deadline - now) }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A server started from its binary, its stdout in a file, known by its pid.
final class ServerProcess: @unchecked Sendable {
    let name: String
    let process: Process
    let outputPath: String
    private(set) var port = 0

    var pid: Int32 { process.processIdentifier }

    /// Starts `executable` and waits for its "... listening on HOST:PORT" line.
    init(name: String, executable: String, arguments: [String], workDirectory: String) throws {
        self.name = name
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw HarnessError("\(name): no executable at \(executable) (build it first: make bench-peers)")
        }
        outputPath = workDirectory + "/\(name).out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = nowNanos() + 30_000_000_000
        while nowNanos() < deadline {
            if let text = try? String(contentsOfFile: outputPath, encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
                let portText = line.split(separator: ":").last, let port = Int(portText)
            {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        process.terminate()
        throw HarnessError("\(name) did not start: \(text)")
    }

    /// utime + stime of the whole process (every thread), in microseconds.
    func cpuMicroseconds() throws -> Double {
        try processCPUMicroseconds("/proc/\(pid)/stat")
    }

    /// SIGTERM, then SIGKILL if it has not exited within 15 s. (Polls instead of
    /// `waitUntilExit`, which can hang when called from Swift concurrency on Linux.)
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = nowNanos() + 15_000_000_000
        while process.isRunning && nowNanos() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// utime + stime of a process (all its threads) from its /proc/PID/stat, in microseconds.
func processCPUMicroseconds(_ path: String = "/proc/self/stat") throws -> Double {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    // The command name (field 2) may hold spaces; fields after its ')' start at field 3.
    guard let close = text.lastIndex(of: ")") else { throw HarnessError("unreadable \(path)") }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
        throw HarnessError("unreadable \(path)")
    }
    let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    return (user + system) * 1_000_000 / ticksPerSecond
}

/// What one measured window of one stack gave.
struct Measurement: Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// Calls started and finished inside the window (the figure's numerator).
    var calls = 0
    /// Non-OK statuses, wrong answers, unknown call ids, failed calls: in the window or not.
    var errors = 0
    var firstError: String?
    var windowSeconds = 0.0
    var serverCPUMicroseconds = 0.0
    /// The load client's own CPU (this process) in the window.
    var clientCPUMicroseconds = 0.0

    var callsPerSecond: Double { windowSeconds > 0 ? Double(calls) / windowSeconds : 0 }
    var cpuPerCall: Double { calls > 0 ? serverCPUMicroseconds / Double(calls) : 0 }
    var clientCPUPerCall: Double { calls > 0 ? clientCPUMicroseconds / Double(calls) : 0 }

    mutating func record(latencyNanos: UInt64) {
        _ = histogram.record(max(1, latencyNanos))
        calls += 1
    }

    mutating func recordError(_ description: @autoclosure () -> String) {
        errors += 1
        if firstError == nil { firstError = description() }
    }

    mutating func merge(_ other: Measurement) {
        histogram.add(other.histogram)
        calls += other.calls
        errors += other.errors
        firstError = firstError ?? other.firstError
    }

    func milliseconds(_ percentile: Double) -> Double {
        Double(histogram.valueAtPercentile(percentile)) / 1_000_000
    }
}

/// `value` with `decimals` digits after the point, thousands grouped with a space.
func format(_ value: Double, _ decimals: Int = 0) -> String {
    let text = String(format: "%.\(decimals)f", value)
    guard decimals == 0, value >= 10_000 else { return text }
    var grouped = ""
    for (index, character) in text.reversed().enumerated() {
        if index > 0 && index % 3 == 0 { grouped.append(" ") }
        grouped.append(character)
    }
    return String(grouped.reversed())
}

func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
        .map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "?"
}
