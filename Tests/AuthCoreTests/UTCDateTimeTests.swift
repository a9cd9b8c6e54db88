import AuthTime
import Testing

@Suite("UTCDateTime: calendar dates from epoch milliseconds")
struct UTCDateTimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_800_000_000_000, "2027-01-15T08:00:00.000Z"),
        (1_764_397_217_123, "2025-11-29T06:20:17.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),  // a leap day of a century divisible by 400
        (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),  // 2100 is not a leap year
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-86_400_000, "1969-12-31T00:00:00.000Z"),
    ])
    func formatsAsISO8601(milliseconds: Int64, text: String) {
        #expect(UTCDateTime(millisecondsSinceEpoch: milliseconds).formatted() == text)
    }

    @Test func aTableShowsSecondsWithASpace() {
        #expect(UTCDateTime(millisecondsSinceEpoch: 1_764_397_217_123).formatted(separator: " ", milliseconds: false)
            == "2025-11-29 06:20:17Z")
    }

    @Test func everyDayOfFourCenturiesFollowsTheLast() {
        // 146 097 days: one whole Gregorian cycle, from 2000-03-01.
        var previous = UTCDateTime(millisecondsSinceEpoch: 951_868_800_000 - 86_400_000)
        for day in Int64(0)..<146_097 {
            let date = UTCDateTime(millisecondsSinceEpoch: 951_868_800_000 + day * 86_400_000)
            let nextDay = date.day == previous.day + 1 && date.month == previous.month && date.year == previous.year
            let nextMonth = date.day == 1 && (date.month == previous.month + 1 && date.year == previous.year
                || date.month == 1 && previous.month == 12 && date.year == previous.year + 1)
            #expect(nextDay || nextMonth, "\(previous) → \(date)")
            if !(nextDay || nextMonth) { break }
            previous = date
        }
        #expect(previous.formatted() == "2400-02-29T00:00:00.000Z")
    }
}
