import AuthCrypto
import Testing

@Suite struct SecureRandomTests {
    @Test func bytesHaveTheRequestedCountAndDiffer() {
        #expect(SecureRandom.bytes(0).isEmpty)
        #expect(SecureRandom.bytes(1).count == 1)
        let a = SecureRandom.bytes(32)
        let b = SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(a != [UInt8](repeating: 0, count: 32))
    }

    @Test func uniformStaysInRange() {
        #expect(SecureRandom.uniform(below: 1) == 0)
        for bound: UInt64 in [2, 3, 7, 10, 1_000_000, UInt64.max / 3 * 2 + 1, UInt64.max] {
            for _ in 0..<200 { #expect(SecureRandom.uniform(below: bound) < bound) }
        }
    }

    @Test func uniformIsRoughlyUniform() {
        // A bound of 3 is where a plain modulo of a byte would be visibly biased.
        let counts = histogram(buckets: 3, draws: 30_000) { Int(SecureRandom.uniform(below: 3)) }
        #expect(chiSquare(counts) < 20, "counts \(counts)")  // 2 dof: p ≈ 5e-5
    }

    @Test(arguments: [1, 4, 6, 8, 19, 20, 40])
    func numericCodeHasExactlyTheDigits(digits: Int) {
        for _ in 0..<200 {
            let code = SecureRandom.numericCode(digits: digits)
            #expect(code.count == digits)
            #expect(code.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }, "\(code)")
        }
    }

    @Test func numericCodeKeepsLeadingZeros() {
        // P(no leading zero in 2000 draws) = 0.9^2000.
        let codes = (0..<2000).map { _ in SecureRandom.numericCode(digits: 8) }
        #expect(codes.contains { $0.hasPrefix("0") })
        #expect(Set(codes).count > 1990)
    }

    @Test func numericCodeDigitsAreRoughlyUniform() {
        // Every position of 8-digit codes, and the chunk boundary of 20-digit ones.
        for digits in [8, 20] {
            var counts = [Int](repeating: 0, count: 10)
            for _ in 0..<4000 {
                for byte in SecureRandom.numericCode(digits: digits).utf8 { counts[Int(byte - UInt8(ascii: "0"))] += 1 }
            }
            #expect(chiSquare(counts) < 45, "digits \(digits): counts \(counts)")  // 9 dof: p ≈ 1e-6
        }
        let firsts = histogram(buckets: 10, draws: 20_000) {
            Int(SecureRandom.numericCode(digits: 6).utf8.first! - UInt8(ascii: "0"))
        }
        #expect(chiSquare(firsts) < 45, "first digits \(firsts)")
    }
}

@Suite struct SecretTokenTests {
    @Test func tokenHasPrefixAndLength() {
        let token = SecretToken.make(prefix: "authd_st_")
        #expect(token.hasPrefix("authd_st_"))
        let body = String(token.dropFirst("authd_st_".count))
        #expect(body.count == 43)  // 32 bytes, base64 without padding
        #expect(Base64URL.decode(body)?.count == 32)
        #expect(body.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        })
        let short = SecretToken.make(prefix: "k_", byteCount: 16)
        #expect(short.count == 2 + 22)
    }

    @Test func tokensAreUnique() {
        let tokens = (0..<10_000).map { _ in SecretToken.make(prefix: "authd_st_") }
        #expect(Set(tokens).count == tokens.count)
    }

    @Test func hashIsSHA256OfTheWholeToken() {
        let token = SecretToken.make(prefix: "authd_st_")
        #expect(SecretToken.hash(token) == Digest.sha256(Array(token.utf8)))
        #expect(SecretToken.hash(token).count == 32)
        #expect(SecretToken.hash("authd_st_abc") != SecretToken.hash("abc"))
    }
}

func histogram(buckets: Int, draws: Int, _ draw: () -> Int) -> [Int] {
    var counts = [Int](repeating: 0, count: buckets)
    for _ in 0..<draws { counts[draw()] += 1 }
    return counts
}

func chiSquare(_ counts: [Int]) -> Double {
    let expected = Double(counts.reduce(0, +)) / Double(counts.count)
    return counts.reduce(0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
}
