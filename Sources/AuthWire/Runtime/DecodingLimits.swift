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
