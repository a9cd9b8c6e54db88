/// A parsed `$scrypt$ln=…,r=…,p=…$<salt>$<hash>` string. Parsing is strict so a damaged or foreign row
/// fails loudly with a reason instead of silently never matching.
struct ScryptPHC: Sendable, Hashable {
    static let algorithm = "scrypt"
    static let saltLength = 16
    static let hashLength = 32

    var parameters: ScryptParameters
    var salt: [UInt8]
    var hash: [UInt8]

    var encoded: String {
        "$\(Self.algorithm)$\(parameters)$\(PHCBase64.encode(salt))$\(PHCBase64.encode(hash))"
    }

    init(parameters: ScryptParameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    init(parsing phc: String) throws(PasswordHashError) {
        guard !phc.isEmpty else { throw .malformedHash("the hash string is empty") }
        // Messages never echo the salt, the hash or unrecognised text: a misplaced secret must not reach logs.
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard fields[0].isEmpty else {
            throw .malformedHash("a PHC string starts with '$'")
        }
        guard fields.count >= 2, fields[1] == Self.algorithm else {
            let name = fields.count >= 2 ? Self.identifier(fields[1]) : nil
            throw .malformedHash(
                name.map { "unknown algorithm '\($0)', expected 'scrypt'" } ?? "missing or unknown algorithm, expected 'scrypt'"
            )
        }
        guard fields.count == 5 else {
            throw .malformedHash(
                "expected 4 '$'-separated fields (scrypt, parameters, salt, hash), found \(fields.count - 1)"
            )
        }
        parameters = try Self.parseParameters(fields[2])
        salt = try Self.decode(fields[3], name: "salt", length: Self.saltLength)
        hash = try Self.decode(fields[4], name: "hash", length: Self.hashLength)
    }

    private static func parseParameters(_ text: Substring) throws(PasswordHashError) -> ScryptParameters {
        let expected = "parameters must be 'ln=<int>,r=<int>,p=<int>' in that order"
        let pairs = text.split(separator: ",", omittingEmptySubsequences: false)
        guard pairs.count == 3 else {
            throw .malformedHash("\(expected), found \(pairs.count) field(s)")
        }
        var values: [Int] = []
        for (pair, key) in zip(pairs, ["ln", "r", "p"]) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == key else {
                throw .malformedHash("\(expected), field \(values.count + 1) is not '\(key)=…'")
            }
            guard let value = decimal(parts[1]) else {
                throw .malformedHash("\(key) must be a decimal integer without sign or leading zeros")
            }
            values.append(value)
        }
        do throws(InvalidScryptParameters) {
            return try ScryptParameters(logN: values[0], r: values[1], p: values[2])
        } catch {
            throw .malformedHash("parameters out of range: \(error.message)")
        }
    }

    private static func decimal(_ text: Substring) -> Int? {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= 9, utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        guard utf8.first != 0x30 || utf8.count == 1 else { return nil }
        return Int(text)
    }

    private static func decode(_ text: Substring, name: String, length: Int) throws(PasswordHashError) -> [UInt8] {
        guard !text.isEmpty else { throw .malformedHash("the \(name) is empty") }
        guard let bytes = PHCBase64.decode(String(text)) else {
            throw .malformedHash("the \(name) is not base64 (standard alphabet, no padding)")
        }
        guard bytes.count == length else {
            throw .malformedHash("the \(name) must be \(length) bytes, found \(bytes.count)")
        }
        return bytes
    }

    /// The text if it looks like a PHC algorithm identifier (`[a-z0-9-]{1,32}`), else nil.
    private static func identifier(_ text: Substring) -> String? {
        let valid = !text.isEmpty && text.utf8.count <= 32
            && text.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        return valid ? String(text) : nil
    }
}
