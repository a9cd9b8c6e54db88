public import AuthCore
internal import Synchronization

/// A clock that moves only when told to, so that expiry, lease and throttle tests move time
/// forward instead of sleeping.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Timestamp>

    public init(_ start: Timestamp = Timestamp(milliseconds: 1_800_000_000_000)) {
        current = Mutex(start)
    }

    public var now: Timestamp {
        current.withLock { $0 }
    }

    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }
}
