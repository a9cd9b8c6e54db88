import AuthCrypto
import Testing

@Suite struct DigestTests {
    // FIPS 180-2 / NIST known answers.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func sha256KnownAnswers(input: String, expected: String) {
        #expect(hex(Digest.sha256(input)) == expected)
        #expect(hex(Digest.sha256(Array(input.utf8))) == expected)
        #expect(hex(Digest.sha256(input.utf8)) == expected)
    }

    @Test func sha256OfAMillionAs() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(hex(Digest.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))) == expected)
        // A sequence without contiguous storage takes the copying path.
        #expect(hex(Digest.sha256((0..<1_000_000).lazy.map { _ in UInt8(ascii: "a") })) == expected)
    }

    @Test func sha256OfNonASCIIStringIsOfItsUTF8() {
        #expect(Digest.sha256("pässwörd") == Digest.sha256(Array("pässwörd".utf8)))
    }
}

@Suite struct ConstantTimeTests {
    @Test func equals() {
        #expect(ConstantTime.equals([], []))
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([0, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([], [0]))
        let digest = Digest.sha256("x")
        #expect(ConstantTime.equals(digest, Digest.sha256("x")))
        #expect(!ConstantTime.equals(digest, Digest.sha256("y")))
    }
}

@Suite struct Base64Tests {
    // RFC 4648 §10, padding removed.
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(PHCBase64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(PHCBase64.decode(encoded) == Array(plain.utf8))
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }

    @Test func alphabetsDiffer() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0xBF]
        #expect(PHCBase64.encode(bytes) == "+/+/")
        #expect(Base64URL.encode(bytes) == "-_-_")
        #expect(PHCBase64.decode("-_-_") == nil)
        #expect(Base64URL.decode("+/+/") == nil)
        #expect(Base64URL.decode("-_-_") == bytes)
    }

    @Test func roundTripsEveryLength() {
        for length in 0...70 {
            let bytes = SecureRandom.bytes(length)
            #expect(PHCBase64.decode(PHCBase64.encode(bytes)) == bytes)
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test(arguments: ["Zg==", "Zg=", "Z", "Zm9vY", "Zh", "Zm9=", "Zm 9v", "Zm9v\n", "Zm9v!", "é"])
    func decodeIsStrict(input: String) {
        // Padding, a lone symbol, non-zero leftover bits ("Zh"), whitespace and foreign characters.
        #expect(PHCBase64.decode(input) == nil)
        #expect(Base64URL.decode(input) == nil)
    }
}
