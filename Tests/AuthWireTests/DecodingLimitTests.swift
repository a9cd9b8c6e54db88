import AuthWire
import Testing

/// Protobuf bytes built by hand: what no Swift encoder here would write (NUL in strings,
/// millions of elements, a field repeated) is what a hostile peer sends.
enum Bytes {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] {
        varint(number << 3) + varint(value)
    }

    static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    static func field(_ number: UInt64, string: String) -> [UInt8] {
        field(number, bytes: Array(string.utf8))
    }

    static func mapEntry(_ number: UInt64, key: String, value: String) -> [UInt8] {
        field(number, bytes: field(1, string: key) + field(2, string: value))
    }
}

@Suite("Decoding limits")
struct DecodingLimitTests {
    @Test("a repeated field over the limit is refused, naming the field")
    func repeatedOverLimit() throws {
        let limits = DecodingLimits(maximumElements: 10)
        let ten = (0..<10).flatMap { Bytes.field(3, string: "a\($0)") }
        let profile = try AuthV1.UpdateProfileRequest(decoding: ten, limits: limits)
        #expect(profile.removeAttributes.count == 10)

        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.UpdateProfileRequest(decoding: ten + Bytes.field(3, string: "one more"), limits: limits)
        }
        #expect(error?.message == "auth.v1.UpdateProfileRequest")
        #expect(error?.field == "remove_attributes")
        #expect(error?.detail == "field remove_attributes has more than 10 elements (the limit)")
    }

    @Test("map entries count as elements of their field")
    func mapEntriesOverLimit() {
        let entries = (0..<65).flatMap { Bytes.mapEntry(6, key: "k\($0)", value: "v") }
        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.Frame(decoding: entries, limits: DecodingLimits(maximumElements: 64))
        }
        #expect(error?.field == "metadata")
        #expect(error?.detail == "field metadata has more than 64 entries (the limit)")
    }

    @Test("an element count in a nested message names the element")
    func nestedPath() throws {
        let roles = (0..<6).flatMap { Bytes.field(4, string: "r\($0)") }
        let users = Bytes.field(1, bytes: Bytes.field(2, string: "a@x")) + Bytes.field(1, bytes: roles)
        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.ListUsersResponse(decoding: users, limits: DecodingLimits(maximumElements: 5))
        }
        #expect(error?.field == "users[1].roles")
    }

    @Test("a singular field may not repeat beyond the limit either")
    func singularRepeated() {
        let bytes = (0..<3).flatMap { _ in Bytes.field(1, string: "x") }
        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.StringValue(decoding: bytes, limits: DecodingLimits(maximumElements: 2))
        }
        #expect(error?.detail == "field value appears more than 2 times (the limit)")
    }

    @Test("the fields of all nested messages together are bounded")
    func totalFields() {
        // 4 users of 3 fields each, plus the 4 user fields themselves: 16 fields.
        let user = Bytes.field(1, string: "id") + Bytes.field(2, string: "e") + Bytes.field(6, varint: 1)
        let bytes = (0..<4).flatMap { _ in Bytes.field(1, bytes: user) }
        #expect(throws: Never.self) {
            try AuthV1.ListUsersResponse(decoding: bytes, limits: DecodingLimits(maximumFields: 16))
        }
        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.ListUsersResponse(decoding: bytes, limits: DecodingLimits(maximumFields: 15))
        }
        #expect(error?.field == "")
        #expect(error?.detail == "message has more than 15 fields (the limit)")
    }

    @Test("packed and unpacked repeated scalars are counted alike")
    func packedScalars() throws {
        let packed = Bytes.field(1, bytes: (1...20).flatMap { Bytes.varint(UInt64($0) * 1000) })
        let unpacked = (1...20).flatMap { Bytes.field(1, varint: UInt64($0)) }
        #expect(try AuthV1.RequeueMessagesRequest(decoding: packed, limits: DecodingLimits(maximumElements: 20)).ids.count == 20)
        for bytes in [packed, unpacked] {
            let error = #expect(throws: WireDecodingError.self) {
                try AuthV1.RequeueMessagesRequest(decoding: bytes, limits: DecodingLimits(maximumElements: 19))
            }
            #expect(error?.field == "ids")
        }
    }

    @Test("two million empty entries are refused at the first one over the limit")
    func millionsOfEntries() {
        // 0x32 0x00: an empty metadata entry, two bytes; 4 MB of them.
        let bytes = [UInt8](unsafeUninitializedCapacity: 4_000_000) { buffer, count in
            for index in stride(from: 0, to: 4_000_000, by: 2) {
                buffer[index] = 0x32
                buffer[index + 1] = 0x00
            }
            count = 4_000_000
        }
        let error = #expect(throws: WireDecodingError.self) {
            try AuthV1.Frame(decoding: bytes, limits: DecodingLimits(maximumElements: 64, maximumFields: 512))
        }
        #expect(error?.field == "metadata")
    }

    @Test("decodes use the task's limits, the defaults outside any")
    func taskLimits() throws {
        let values = (0..<1025).flatMap { _ in Bytes.field(1, string: "") }
        #expect(throws: WireDecodingError.self) { try AuthV1.StringList(decoding: values) }
        let list = try DecodingLimits.$current.withValue(DecodingLimits(maximumElements: 2000)) {
            try AuthV1.StringList(decoding: values)
        }
        #expect(list.values.count == 1025)
        #expect(try AuthV1.StringList(decoding: values, limits: .unbounded).values.count == 1025)
    }

    @Test("an unknown field is refused before protobuf-c keeps a copy of it, as before")
    func unknownFieldsStillNamed() {
        let entry = Bytes.field(1, string: "k") + Bytes.field(3, varint: 1)
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.Frame(decoding: Bytes.field(6, bytes: entry)) }
        #expect(error?.field == "metadata")
        #expect(error?.detail == "unknown field number 3 in auth.v1.Frame.MetadataEntry (at metadata)")
    }

    @Test("bytes that are not protobuf stay malformed", arguments: [
        [0x0A, 0x05, 0x61] as [UInt8],  // a length past the end
        [0x00, 0x01],  // field number 0
        [0x0F],  // wire type 7
        [0x0A, 0x01, 0x61, 0x08] as [UInt8],  // a varint cut short (and of the wrong wire type)
    ])
    func malformed(bytes: [UInt8]) {
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: bytes) }
        #expect(error?.detail == "malformed protobuf")
    }
}

@Suite("NUL bytes in strings")
struct NULStringTests {
    @Test("a string holding NUL is refused, naming the field, instead of arriving cut", arguments: [
        (Bytes.field(1, string: "a@x") + Bytes.field(2, string: "abcdef\u{0}XYZ"), "password"),
        (Bytes.field(1, string: "a@x\u{0}.evil") + Bytes.field(2, string: "abcdef"), "email"),
    ])
    func loginFields(bytes: [UInt8], field: String) {
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: bytes) }
        #expect(error?.message == "auth.v1.LoginRequest")
        #expect(error?.field == field)
        #expect(error?.detail == "field \(field) contains a NUL byte")
    }

    @Test("NUL in map keys, map values, repeated and nested strings is named by its path", arguments: [
        (Bytes.mapEntry(3, key: "name", value: "A\u{0}da"), "attributes[name]"),
        (Bytes.mapEntry(3, key: "na\u{0}me", value: "Ada"), "attributes.key"),
        (Bytes.field(4, string: "Admin") + Bytes.field(4, string: "\u{0}"), "roles[1]"),
    ])
    func paths(userBytes: [UInt8], path: String) {
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.User(decoding: userBytes) }
        #expect(error?.field == path)
        let nested = #expect(throws: WireDecodingError.self) {
            try AuthV1.ListUsersResponse(decoding: Bytes.field(1, bytes: []) + Bytes.field(1, bytes: userBytes))
        }
        #expect(nested?.field == "users[1].\(path)")
    }

    @Test("bytes fields may hold NUL")
    func bytesMayHoldNUL() throws {
        let frame = try AuthV1.Frame(decoding: Bytes.field(4, bytes: [0, 1, 0]))
        #expect(frame.payload == [0, 1, 0])
    }

    @Test("a scan reports the first string holding NUL without refusing it")
    func scanReports() throws {
        let bytes = Bytes.field(1, string: "a\u{0}@x") + Bytes.field(2, string: "pass\u{0}word")
        let report = try bytes.withUnsafeBytes { try AuthV1.LoginRequest.scan($0) }
        #expect(report.firstStringWithNUL == "email")
        #expect(report.fields == 2)
        let clean = try Bytes.field(1, string: "a@x").withUnsafeBytes { try AuthV1.LoginRequest.scan($0) }
        #expect(clean.firstStringWithNUL == nil)
    }

    @Test("a scan refuses what a decode would")
    func scanRefuses() {
        let bytes = (0..<3).flatMap { _ in Bytes.field(1, string: "") }
        let error = #expect(throws: WireDecodingError.self) {
            try bytes.withUnsafeBytes { try AuthV1.StringList.scan($0, limits: DecodingLimits(maximumElements: 2)) }
        }
        #expect(error?.message == "auth.v1.StringList")
        #expect(error?.field == "values")
        #expect(throws: WireDecodingError.self) { try [UInt8]([0x0F]).withUnsafeBytes { try AuthV1.StringList.scan($0) } }
    }
}
