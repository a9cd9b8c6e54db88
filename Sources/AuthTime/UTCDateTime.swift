/// A UTC calendar date and time of day, from milliseconds since the Unix epoch: what the
/// CSV export writes and what authctl prints. Plain arithmetic (Howard Hinnant's
/// days-to-civil algorithm), so neither needs Foundation's calendars or a time zone
/// database, and both agree to the millisecond.
public struct UTCDateTime: Hashable, Sendable {
    public var year: Int64
    /// 1...12
    public var month: Int64
    /// 1...31
    public var day: Int64
    public var hour: Int64
    public var minute: Int64
    public var second: Int64
    public var millisecond: Int64

    /// Times before the epoch count back from it (floor division), so every instant has a date.
    public init(millisecondsSinceEpoch milliseconds: Int64) {
        let seconds = Self.floorDivide(milliseconds, 1000)
        millisecond = milliseconds - seconds * 1000
        let days = Self.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60

        let z = days + 719_468
        let era = Self.floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // March is 0
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// ISO 8601 in UTC: `2026-11-29T06:20:17.123Z`; `separator: " "` and no milliseconds
    /// give `2026-11-29 06:20:17Z`, easier on the eye in a table.
    public func formatted(separator: String = "T", milliseconds: Bool = true) -> String {
        let fraction = milliseconds ? "." + Self.pad(millisecond, 3) : ""
        return "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))"
            + "\(separator)\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2))\(fraction)Z"
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
