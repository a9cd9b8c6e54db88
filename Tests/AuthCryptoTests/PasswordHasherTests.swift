import AuthCrypto
import AuthdTesting
import Testing

/// Runs `body` with a hasher and always shuts it down.
func withHasher<T>(
    _ parameters: ScryptParameters = .testing,
    threads: Int = 2,
    _ body: (PasswordHasher) async throws -> T
) async throws -> T {
    let hasher = PasswordHasher(parameters: parameters, threads: threads)
    do {
        let result = try await body(hasher)
        await hasher.shutdown()
        return result
    } catch {
        await hasher.shutdown()
        throw error
    }
}

@Suite struct PasswordHasherTests {
    @Test func hashHasPHCShape() async throws {
        try await withHasher { hasher in
            let phc = try await hasher.hash("correct horse battery staple")
            let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
            #expect(fields.count == 5)
            #expect(fields[0] == "" && fields[1] == "scrypt" && fields[2] == "ln=10,r=8,p=1")
            #expect(PHCBase64.decode(String(fields[3]))?.count == 16)
            #expect(PHCBase64.decode(String(fields[4]))?.count == 32)
            #expect(try await hasher.hash("correct horse battery staple") != phc, "salt is random")
        }
    }

    @Test func roundTripWithDefaultParameters() async throws {
        try await withHasher(.owasp, threads: 1) { hasher in
            let phc = try await hasher.hash("hunter22")
            #expect(phc.hasPrefix("$scrypt$ln=17,r=8,p=1$"))
            #expect(try await hasher.verify("hunter22", against: phc) == .match(needsRehash: false))
            #expect(try await hasher.verify("hunter23", against: phc) == .mismatch)
        }
    }

    @Test(arguments: ["", "a", "pässwörd 🔑", String(repeating: "x", count: 1024)])
    func verifyMatchAndMismatch(password: String) async throws {
        try await withHasher { hasher in
            let phc = try await hasher.hash(password)
            #expect(try await hasher.verify(password, against: phc) == .match(needsRehash: false))
            #expect(try await hasher.verify(password + " ", against: phc) == .mismatch)
            #expect(try await hasher.verify(String(password.dropLast()) + "?", against: phc) == .mismatch)
        }
    }

    @Test func verifiesAKnownHash() async throws {
        // Made independently (Python hashlib.scrypt, salt 00…0f): the stored format must stay readable.
        let phc = "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU"
        try await withHasher { hasher async throws in
            #expect(try await hasher.verify("correct horse battery staple", against: phc) == .match(needsRehash: false))
            #expect(try await hasher.verify("correct horse battery stapler", against: phc) == .mismatch)
        }
    }

    @Test func olderParametersStillVerifyAndNeedRehash() async throws {
        let old = try await withHasher(try ScryptParameters(logN: 8, r: 8, p: 1)) { try await $0.hash("s3cret!") }
        try await withHasher { hasher in
            #expect(try await hasher.verify("s3cret!", against: old) == .match(needsRehash: true))
            #expect(try await hasher.verify("s3cret?", against: old) == .mismatch)
            let upgraded = try await hasher.hash("s3cret!")
            #expect(try await hasher.verify("s3cret!", against: upgraded) == .match(needsRehash: false))
        }
        // Any differing parameter counts, including r and p.
        for parameters in [try ScryptParameters(logN: 10, r: 4, p: 1), try ScryptParameters(logN: 10, r: 8, p: 2)] {
            let phc = try await withHasher(parameters) { try await $0.hash("pw") }
            try await withHasher { hasher async throws in
                #expect(try await hasher.verify("pw", against: phc) == .match(needsRehash: true))
            }
        }
    }

    /// Larger than the configured parameters: the work buffer is made for the one call
    /// (not kept by the thread), and the hash still verifies.
    @Test func largerParametersThanConfiguredVerify() async throws {
        let larger = try await withHasher(try ScryptParameters(logN: 12, r: 8, p: 1)) { try await $0.hash("s3cret!") }
        try await withHasher(try ScryptParameters(logN: 6, r: 8, p: 1)) { hasher in
            #expect(try await hasher.verify("s3cret!", against: larger) == .match(needsRehash: true))
            #expect(try await hasher.verify("s3cret?", against: larger) == .mismatch)
            // And the kept buffer of the configured size still serves its own hashes.
            let own = try await hasher.hash("pw")
            #expect(try await hasher.verify("pw", against: own) == .match(needsRehash: false))
        }
    }

    @Test func burnVerifyCostReturns() async throws {
        try await withHasher { hasher in
            try await hasher.burnVerifyCost("anything")
            try await hasher.burnVerifyCost("")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentHashesAllComplete() async throws {
        // Many more hashes than threads: all queue on the pool and all finish.
        try await withHasher(threads: 2) { hasher in
            let count = 48
            let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<count {
                    group.addTask { (index, try await hasher.hash("password \(index)")) }
                }
                return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == count)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, phc) in results {
                    group.addTask { () async throws in
                        #expect(try await hasher.verify("password \(index)", against: phc) == .match(needsRehash: false))
                        #expect(try await hasher.verify("password \(index + 1)", against: phc) == .mismatch)
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func failsAfterShutdown() async throws {
        let hasher = PasswordHasher(parameters: .testing, threads: 1)
        let phc = try await hasher.hash("before")
        await hasher.shutdown()
        await hasher.shutdown()  // idempotent
        do {
            _ = try await hasher.hash("after")
            Issue.record("hashed after shutdown")
        } catch {
            guard case .hashingFailed(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("shut down"))
        }
        await #expect(throws: PasswordHashError.self) { try await hasher.verify("before", against: phc) }
        try await hasher.burnVerifyCost("after")  // returns, does not hang
    }

    @Test func hasherDroppedWithoutShutdownStopsItsPool() async throws {
        var hasher: PasswordHasher? = PasswordHasher(parameters: .testing, threads: 1)
        _ = try await hasher?.hash("x")
        hasher = nil
    }
}

@Suite struct MalformedPHCTests {
    static let valid = "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU"
    static let salt = "AAECAwQFBgcICQoLDA0ODw"
    static let hash = "mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU"

    static let cases: [(String, String)] = [
        ("", "empty"),
        ("hunter22", "starts with '$'"),
        ("scrypt$ln=10,r=8,p=1$\(salt)$\(hash)", "starts with '$'"),
        ("$", "algorithm"),
        ("$$ln=10,r=8,p=1$\(salt)$\(hash)", "algorithm"),
        ("$argon2id$v=19$m=65536,t=3,p=4$\(salt)$\(hash)", "unknown algorithm 'argon2id'"),
        ("$SCRYPT$ln=10,r=8,p=1$\(salt)$\(hash)", "unknown algorithm"),
        ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "unknown algorithm '2b'"),
        ("$scrypt", "found 1"),
        ("$scrypt$ln=10,r=8,p=1", "found 2"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)", "found 3"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(hash)$", "found 5"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(hash)$extra", "found 5"),
        ("$scrypt$$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln=10,r=8$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln=10,r=8,p=1,x=2$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln=10,r=8,p=1,$\(salt)$\(hash)", "parameters"),
        ("$scrypt$r=8,ln=10,p=1$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln=10,ln=10,p=1$\(salt)$\(hash)", "parameters"),
        ("$scrypt$n=1024,r=8,p=1$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln10,r=8,p=1$\(salt)$\(hash)", "parameters"),
        ("$scrypt$ln=ten,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=-1,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=+10,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=010,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln= 10,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=99999999999999999999,r=8,p=1$\(salt)$\(hash)", "ln must be a decimal"),
        ("$scrypt$ln=10,r=8.0,p=1$\(salt)$\(hash)", "r must be a decimal"),
        ("$scrypt$ln=10,r=8,p=1=1$\(salt)$\(hash)", "p must be a decimal"),
        ("$scrypt$ln=0,r=8,p=1$\(salt)$\(hash)", "out of range: ln"),
        ("$scrypt$ln=25,r=8,p=1$\(salt)$\(hash)", "out of range: ln"),
        ("$scrypt$ln=10,r=0,p=1$\(salt)$\(hash)", "out of range: r"),
        ("$scrypt$ln=10,r=8,p=0$\(salt)$\(hash)", "out of range: p"),
        ("$scrypt$ln=17,r=1,p=1$\(salt)$\(hash)", "out of range: ln must be below 16·r"),
        ("$scrypt$ln=10,r=4096,p=4096$\(salt)$\(hash)", "out of range: r·p"),
        ("$scrypt$ln=10,r=8,p=1$$\(hash)", "salt is empty"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)==$\(hash)", "salt is not base64"),
        ("$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0OD!$\(hash)", "salt is not base64"),
        ("$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0OD_$\(hash)", "salt is not base64"),
        ("$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODx$\(hash)", "salt is not base64"),  // stray bits
        ("$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoL$\(hash)", "salt must be 16 bytes, found 12"),
        ("$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODxAREhM$\(hash)", "salt must be 16 bytes, found 20"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$", "hash is empty"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(hash)=", "hash is not base64"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(hash)\n", "hash is not base64"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$ \(hash)", "hash is not base64"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(salt)", "hash must be 32 bytes, found 16"),
        ("$scrypt$ln=10,r=8,p=1$\(salt)$\(PHCBase64.encode(Array(repeating: 7, count: 64)))", "hash must be 32 bytes, found 64"),
    ]

    @Test(arguments: cases)
    func rejectsWithAReason(phc: String, reason: String) async throws {
        try await withHasher(threads: 1) { hasher in
            do throws(PasswordHashError) {
                _ = try await hasher.verify("correct horse battery staple", against: phc)
                Issue.record("accepted \(phc)")
            } catch {
                guard case .malformedHash(let message) = error else {
                    Issue.record("expected malformedHash, got \(error)")
                    return
                }
                #expect(message.contains(reason), "message: \(message)")
                #expect(!message.contains(Self.salt) && !message.contains(Self.hash), "echoes a secret: \(message)")
            }
        }
    }

    @Test func theValidStringTheCasesAreMadeFromIsAccepted() async throws {
        try await withHasher(threads: 1) { hasher async throws in
            #expect(
                try await hasher.verify("correct horse battery staple", against: Self.valid) == .match(needsRehash: false)
            )
        }
    }
}
