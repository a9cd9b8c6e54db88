import AuthWire
import Testing

@Suite("Messages through protobuf-c pack and unpack")
struct MessageRoundTripTests {
    @Test("every message type round-trips with every field set", arguments: everyMessageSample.indices)
    func roundTrip(index: Int) throws {
        let sample = everyMessageSample[index]
        try assertRoundTrip(sample)
    }

    private func assertRoundTrip<M: WireMessage>(_ message: M) throws {
        let bytes = message.encoded()
        #expect(!bytes.isEmpty || M() == message, "\(M.protoName) encoded to nothing")
        let decoded = try M(decoding: bytes)
        #expect(decoded == message, "\(M.protoName) changed in a round trip")
        // Encoding is deterministic (maps are written in key order).
        #expect(decoded.encoded() == bytes)
    }

    @Test("every message type's default value encodes to zero bytes", arguments: everyMessageSample.indices)
    func defaultsAreEmpty(index: Int) throws {
        try assertEmptyDefault(everyMessageSample[index])
    }

    private func assertEmptyDefault<M: WireMessage>(_ sample: M) throws {
        #expect(M().encoded() == [])
        #expect(try M(decoding: [UInt8]()) == M())
    }

    @Test("the bytes are protobuf's, field by field")
    func knownEncoding() throws {
        let request = AuthV1.LoginRequest(email: "a", password: "bc")
        #expect(request.encoded() == [0x0A, 0x01, 0x61, 0x12, 0x02, 0x62, 0x63])
        let frame = AuthV1.Frame(kind: .request, callID: 300, timeoutMs: 1)
        #expect(frame.encoded() == [0x08, 0x01, 0x10, 0xAC, 0x02, 0x38, 0x01])
    }

    @Test("all sample types are distinct and cover the protos")
    func samplesCoverEveryType() {
        let names = Set(everyMessageSample.map { type(of: $0).protoName })
        #expect(names.count == everyMessageSample.count)
        #expect(names.contains("auth.v1.Frame"))
        #expect(names.contains("auth.v1.HealthCheckResponse"))
        #expect(names.contains("auth.v1.ImportRowResult"))
    }
}

@Suite("Strict decoding")
struct StrictDecodingTests {
    @Test("an unknown top-level field is refused, naming its number")
    func unknownTopLevelField() {
        // LoginRequest{email: "a"} followed by field 99 (varint 5).
        let bytes: [UInt8] = [0x0A, 0x01, 0x61, 0x98, 0x06, 0x05]
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: bytes) }
        #expect(error?.message == "auth.v1.LoginRequest")
        #expect(error?.detail.contains("unknown field number 99") == true)
    }

    @Test("an unknown field in a nested message is refused with its path")
    func unknownNestedField() {
        // Status{field_violations: [FieldViolation{field: "x", <field 7 varint 1>}]}
        let violation: [UInt8] = [0x0A, 0x01, 0x78, 0x38, 0x01]
        let bytes: [UInt8] = [0x1A, UInt8(violation.count)] + violation
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.Status(decoding: bytes) }
        #expect(error?.message == "auth.v1.Status")
        #expect(error?.field == "field_violations[0]")
        #expect(error?.detail.contains("unknown field number 7 in auth.v1.FieldViolation") == true)
    }

    @Test("a string that is not UTF-8 is refused, naming the field")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x0A, 0x02, 0xC3, 0x28]
        let error = #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: bytes) }
        #expect(error?.field == "email")
        #expect(error?.description.contains("not valid UTF-8") == true)
    }

    @Test("truncated and garbage bytes are refused", arguments: [
        [0x0A, 0x05, 0x61] as [UInt8],  // length 5, one byte present
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // overlong varint key
        [0x0B],  // start-group wire type
    ])
    func malformed(bytes: [UInt8]) {
        #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: bytes) }
    }

    @Test("a payload of another type is refused rather than misread")
    func wrongType() {
        let frame = AuthV1.Frame(kind: .request, callID: 7, method: "/x/y", payload: [1, 2, 3], timeoutMs: 9)
        #expect(throws: WireDecodingError.self) { try AuthV1.LoginRequest(decoding: frame.encoded()) }
    }

    @Test("enum values this build does not know are kept")
    func openEnums() throws {
        let bytes: [UInt8] = [0x08, 0x63]  // code = 99
        let status = try AuthV1.Status(decoding: bytes)
        #expect(status.code.rawValue == 99)
        #expect(status.code.description == "99")
        #expect(status.encoded() == bytes)
        #expect(AuthV1.Code.invalidArgument.description == "INVALID_ARGUMENT")
    }

    @Test("map entries with duplicate keys keep the last, as protobuf says")
    func duplicateMapKeys() throws {
        let first = AuthV1.User(attributes: ["k": "1"]).encoded()
        let second = AuthV1.User(attributes: ["k": "2"]).encoded()
        let user = try AuthV1.User(decoding: first + second)
        #expect(user.attributes == ["k": "2"])
    }
}
