/// Milliseconds since the Unix epoch: what the store keeps and the wire carries.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.milliseconds < rhs.milliseconds
    }

    public static func + (lhs: Self, rhs: Duration) -> Self {
        Self(milliseconds: lhs.milliseconds + rhs.wholeMilliseconds)
    }

    public static func - (lhs: Self, rhs: Duration) -> Self {
        Self(milliseconds: lhs.milliseconds - rhs.wholeMilliseconds)
    }

    /// The time from `other` to `self`.
    public func since(_ other: Self) -> Duration {
        .milliseconds(milliseconds - other.milliseconds)
    }

    public var description: String {
        "\(milliseconds) ms"
    }
}

extension Duration {
    /// Rounded towards zero.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// Where the domain reads the time. Injected, so that expiry, lease and throttle tests
/// move time forward instead of sleeping.
public protocol WallClock: Sendable {
    var now: Timestamp { get }
}

/// The real time.
public struct SystemWallClock: WallClock {
    public init() {}

    public var now: Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
