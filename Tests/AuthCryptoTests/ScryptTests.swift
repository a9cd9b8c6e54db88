@testable import AuthCrypto
import COpenSSL
import AuthdTesting
import Testing

@Suite struct ScryptTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var password: String
        var salt: String
        var logN: Int
        var r: Int
        var p: Int
        var expected: String
        var testDescription: String { "P=\"\(password)\" S=\"\(salt)\" N=2^\(logN) r=\(r) p=\(p)" }
    }

    // RFC 7914 §12, dkLen = 64.
    static let vectors = [
        Vector(
            password: "", salt: "", logN: 4, r: 1, p: 1,
            expected: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                + "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        ),
        Vector(
            password: "password", salt: "NaCl", logN: 10, r: 8, p: 16,
            expected: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                + "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        ),
        Vector(
            password: "pleaseletmein", salt: "SodiumChloride", logN: 14, r: 8, p: 1,
            expected: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
                + "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
        ),
    ]

    @Test(arguments: vectors)
    func rfc7914(vector: Vector) throws {
        let parameters = try ScryptParameters(logN: vector.logN, r: vector.r, p: vector.p)
        let key = try PasswordHasher.scrypt(
            password: Array(vector.password.utf8), salt: Array(vector.salt.utf8), parameters: parameters, length: 64
        )
        #expect(hex(key) == vector.expected)
    }

    // The fourth vector needs 1 GiB: only when asked for.
    @Test(.enabled(if: Environment.slowTests))
    func rfc7914OneGibibyte() throws {
        let key = try PasswordHasher.scrypt(
            password: Array("pleaseletmein".utf8), salt: Array("SodiumChloride".utf8),
            parameters: ScryptParameters(logN: 20, r: 8, p: 1), length: 64
        )
        #expect(
            hex(key) == "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47"
                + "8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4"
        )
    }

    /// The ROMix of CScrypt over a kept buffer against OpenSSL's `EVP_PBE_scrypt`, on one
    /// thread, with sizes that grow and shrink so that the kept buffer is reused, replaced
    /// and larger than needed.
    @Test func sameKeysAsOpenSSL() throws {
        var generator = SystemRandomNumberGenerator()
        let shapes = [(4, 1, 1), (10, 8, 1), (1, 1, 1), (12, 2, 3), (6, 4, 2), (10, 8, 1), (3, 16, 1), (11, 1, 4)]
        for (logN, r, p) in shapes {
            let parameters = try ScryptParameters(logN: logN, r: r, p: p)
            for _ in 0..<3 {
                let password = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let salt = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let length = Int.random(in: 1...100, using: &generator)
                let ours = try PasswordHasher.scrypt(password: password, salt: salt, parameters: parameters, length: length)
                let openssl = try Self.opensslScrypt(password: password, salt: salt, parameters: parameters, length: length)
                #expect(ours == openssl, "\(parameters), \(password.count)-byte password, \(salt.count)-byte salt, length \(length)")
            }
        }
    }

    /// OpenSSL's EVP_PBE_scrypt, which authd used until it kept the work buffer per thread.
    static func opensslScrypt(password: [UInt8], salt: [UInt8], parameters: ScryptParameters, length: Int) throws -> [UInt8] {
        var key = [UInt8](repeating: 0, count: length)
        let status = EVP_PBE_scrypt(
            password.withUnsafeBufferPointer { $0.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } },
            password.count,
            salt, salt.count,
            UInt64(parameters.n), UInt64(parameters.r), UInt64(parameters.p), UInt64(parameters.memoryBytes),
            &key, length
        )
        guard status == 1 else { throw PasswordHashError.hashingFailed("EVP_PBE_scrypt: \(OpenSSLError.drain())") }
        return key
    }

    @Test func rejectsNonPositiveLength() {
        #expect(throws: PasswordHashError.self) {
            try PasswordHasher.scrypt(password: [1], salt: [2], parameters: .testing, length: 0)
        }
    }
}

@Suite struct ScryptParametersTests {
    @Test func presets() throws {
        #expect(ScryptParameters.owasp.description == "ln=17,r=8,p=1")
        #expect(ScryptParameters.testing.description == "ln=10,r=8,p=1")
        #expect(ScryptParameters.owasp.n == 131_072)
        #expect(ScryptParameters.owasp.memoryBytes == 128 * 8 * (131_072 + 2) + 128 * 8)
        #expect(ScryptParameters.owasp.memoryBytes > 128 << 20)
        #expect(try ScryptParameters(logN: 17, r: 8, p: 1) == .owasp)
        #expect(try ScryptParameters(logN: 10, r: 8, p: 1) == .testing)
    }

    @Test(arguments: [(1, 1, 1), (15, 1, 1), (24, 8, 1), (16, 2, 1), (10, 8, 16), (4, 1, (1 << 24) - 1)])
    func accepts(logN: Int, r: Int, p: Int) throws {
        let parameters = try ScryptParameters(logN: logN, r: r, p: p)
        #expect(parameters.description == "ln=\(logN),r=\(r),p=\(p)")
    }

    @Test(arguments: [
        (0, 8, 1, "ln"), (25, 8, 1, "ln"), (-1, 8, 1, "ln"), (10, 0, 1, "r must"), (10, 8, 0, "p must"),
        (10, 8, -3, "p must"), (16, 1, 1, "16·r"), (10, 1 << 12, 1 << 12, "r·p"), (10, Int.max, 2, "r·p"),
    ])
    func rejects(logN: Int, r: Int, p: Int, reason: String) {
        do {
            _ = try ScryptParameters(logN: logN, r: r, p: p)
            Issue.record("accepted ln=\(logN),r=\(r),p=\(p)")
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func largestNForRIsAcceptedByOpenSSL() throws {
        // ln=15 is the largest ln for r=1 (N < 2^16): OpenSSL's own limit must agree with ours.
        let parameters = try ScryptParameters(logN: 15, r: 1, p: 1)
        #expect(try PasswordHasher.scrypt(password: [], salt: [], parameters: parameters, length: 16).count == 16)
    }
}

enum Environment {
    static var slowTests: Bool { getenv("AUTHD_SLOW_TESTS") != nil }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
