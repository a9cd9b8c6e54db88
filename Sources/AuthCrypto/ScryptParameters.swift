/// The cost of one scrypt hash. The initializer throws rather than traps because parameters come from
/// configuration and stored hashes; a value that exists is always one OpenSSL accepts.
public struct ScryptParameters: Sendable, Hashable, CustomStringConvertible {
    /// N = 2^logN, the CPU and memory cost.
    public let logN: Int
    /// Block size; memory and time grow linearly with it.
    public let r: Int
    /// Parallelisation; OpenSSL computes the p lanes one after another, so it costs time, not memory.
    public let p: Int

    /// Validates 1 ≤ logN ≤ 24, r ≥ 1, p ≥ 1, N < 2^(16·r) (RFC 7914), and r·p < 2^24 (OpenSSL's 128·r·p ≤ INT_MAX).
    public init(logN: Int, r: Int, p: Int) throws(InvalidScryptParameters) {
        guard (1...24).contains(logN) else {
            throw InvalidScryptParameters("ln must be in 1...24, got \(logN)")
        }
        guard r >= 1 else { throw InvalidScryptParameters("r must be at least 1, got \(r)") }
        guard p >= 1 else { throw InvalidScryptParameters("p must be at least 1, got \(p)") }
        let (rp, overflow) = r.multipliedReportingOverflow(by: p)
        guard !overflow, rp < 1 << 24 else {
            throw InvalidScryptParameters("r·p must be below 2^24, got r=\(r), p=\(p)")
        }
        // RFC 7914: N < 2^(128·r/8). Only binds for r < 2 (logN ≤ 24).
        guard logN < 16 * r else {
            throw InvalidScryptParameters("ln must be below 16·r, got ln=\(logN) with r=\(r)")
        }
        self.init(unchecked: logN, r, p)
    }

    private init(unchecked logN: Int, _ r: Int, _ p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// OWASP's recommended minimum (N = 2^17, r = 8, p = 1: 128 MiB, ~0.1–0.3 s): the default.
    public static let owasp = ScryptParameters(unchecked: 17, 8, 1)

    /// N = 2^logN.
    public var n: Int { 1 << logN }

    /// The bytes OpenSSL allocates for one hash, 128·r·(N+2) + 128·r·p (≈ 128·r·N, since p lanes run in
    /// sequence): threads × memoryBytes bounds a hasher's memory. Also the `maxmem` passed to OpenSSL.
    /// Cannot overflow: validation bounds it below 2^56.
    public var memoryBytes: Int { 128 * r * (n + 2) + 128 * r * p }

    /// The PHC parameter string, e.g. "ln=17,r=8,p=1".
    public var description: String { "ln=\(logN),r=\(r),p=\(p)" }
}

/// Scrypt parameters outside what RFC 7914 and OpenSSL accept; `message` says which and why.
public struct InvalidScryptParameters: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid scrypt parameters: \(message)" }
}
