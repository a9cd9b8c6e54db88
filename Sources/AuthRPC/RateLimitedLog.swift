public import Logging
import Synchronization

/// Logs at most a few lines a second per key (a peer's address), counts the rest, and says
/// how many it dropped once their second is over: a peer sending garbage as fast as it can
/// must not turn into a log flood, yet the operator still learns how much there was.
///
/// Shared by every connection of a server; one `Mutex` owns the counts.
public final class RateLimitedLog: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        /// The level the count of dropped lines is reported at: that of the window's first line.
        var level: Logger.Level
        var lines = 1
        var suppressed = 0
    }

    private let logger: Logger
    private let linesPerSecond: Int
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let windows = Mutex<[String: Window]>([:])

    /// `clock` is injected so that tests need not sleep through seconds.
    public init(logger: Logger, linesPerSecond: Int, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        precondition(linesPerSecond >= 1)
        self.logger = logger
        self.linesPerSecond = linesPerSecond
        self.clock = clock
    }

    /// Logs `message` unless `key` already had its lines this second.
    public func log(
        _ level: Logger.Level,
        key: String,
        _ message: @autoclosure () -> Logger.Message,
        metadata: Logger.Metadata = [:]
    ) {
        guard logger.logLevel <= level else { return }
        let now = clock()
        let (allowed, ended) = windows.withLock { windows -> (Bool, Window?) in
            guard var window = windows[key], now - window.start < .seconds(1) else {
                let ended = windows[key]
                windows[key] = Window(start: now, level: level)
                return (true, ended)
            }
            defer { windows[key] = window }
            guard window.lines < linesPerSecond else {
                window.suppressed += 1
                return (false, nil)
            }
            window.lines += 1
            return (true, nil)
        }
        if let ended, ended.suppressed > 0 {
            reportSuppressed(ended, key: key)
        }
        if allowed {
            logger.log(level: level, message(), metadata: metadata)
        }
    }

    /// Reports the lines dropped in seconds that are over (or, with `all`, in every second)
    /// and forgets quiet keys; the server calls it once a second, so a count is not held back
    /// until the peer's next line, and with `all` when it stops.
    public func flush(all: Bool = false) {
        let now = clock()
        let ended = windows.withLock { windows -> [(String, Window)] in
            var ended: [(String, Window)] = []
            for (key, window) in windows where all || now - window.start >= .seconds(1) {
                if window.suppressed > 0 { ended.append((key, window)) }
                windows[key] = nil
            }
            return ended
        }
        for (key, window) in ended {
            reportSuppressed(window, key: key)
        }
    }

    private func reportSuppressed(_ window: Window, key: String) {
        logger.log(
            level: window.level,
            "suppressed \(window.suppressed) similar log lines",
            metadata: ["about": "\(key)", "suppressed": "\(window.suppressed)"]
        )
    }
}
