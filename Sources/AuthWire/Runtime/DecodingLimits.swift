#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How much work one decode may cost, checked on the encoded bytes before protobuf-c
/// allocates anything: protobuf-c makes one allocation per repeated element, so the
/// element count, not the byte count, is what a hostile peer would inflate.
///
/// A decode reads the task's limits (`DecodingLimits.current`); the server sets them per
/// method for the task that serves a call, and `init(decoding:limits:)` sets them for one
/// decode.
public struct DecodingLimits: Sendable, Hashable {
    /// Elements of one repeated or map field in one message, and the times one singular
    /// field may appear (protobuf lets a field repeat; conforming encoders write it once).
    public var maximumElements: Int
    /// Fields in the whole message, nested messages and every element included.
    public var maximumFields: Int

    public init(maximumElements: Int = 1024, maximumFields: Int = 16_384) {
        precondition(maximumElements >= 1 && maximumFields >= 1, "decoding limits must be at least 1")
        self.maximumElements = maximumElements
        self.maximumFields = maximumFields
    }

    public static var defaults: Self { Self() }

    /// No count limit: for a client decoding its own server's answers, which the frame size bounds.
    public static var unbounded: Self { Self(maximumElements: .max, maximumFields: .max) }

    /// The limits decodes in this task use.
    @TaskLocal public static var current: DecodingLimits = .defaults
}

/// Limits that `init(decoding:limits:)` sets for one synchronous decode on this thread.
///
/// A thread-local rather than the task-local `DecodingLimits.current`: binding a task-local
/// costs an allocation and, outside a task (a request answered on the event loop), more than
/// the decode of a small message. A decode never suspends, so nothing else runs on the
/// thread between the set and the reset.
@usableFromInline
enum ThreadDecodingLimits {
    private final class Slot {
        var limits: DecodingLimits?
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<AnyObject>.fromOpaque(pointer).release()
        }
        precondition(created == 0, "pthread_key_create failed: \(created)")
        return key
    }()

    /// The limits a decode on this thread uses: the override if one is set, else the task's.
    static var effective: DecodingLimits {
        guard let pointer = pthread_getspecific(key) else { return DecodingLimits.current }
        return Unmanaged<Slot>.fromOpaque(pointer).takeUnretainedValue().limits ?? DecodingLimits.current
    }

    private static var slot: Slot {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<Slot>.fromOpaque(pointer).takeUnretainedValue()
        }
        let slot = Slot()
        pthread_setspecific(key, Unmanaged.passRetained(slot).toOpaque())
        return slot
    }

    /// Sets this thread's limits until `restore(_:)` is given what this returns.
    @usableFromInline
    static func override(with limits: DecodingLimits) -> DecodingLimits? {
        let slot = self.slot
        defer { slot.limits = limits }
        return slot.limits
    }

    @usableFromInline
    static func restore(_ previous: DecodingLimits?) {
        slot.limits = previous
    }

    static func with<Result>(_ limits: DecodingLimits, _ body: () -> Result) -> Result {
        let previous = override(with: limits)
        defer { restore(previous) }
        return body()
    }
}
