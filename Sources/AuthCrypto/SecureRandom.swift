internal import COpenSSL

/// Secrets (salts, tokens, codes) come from OpenSSL's CSPRNG, never from `SystemRandomNumberGenerator`
/// or anything seedable, so there is one audited source of randomness.
public enum SecureRandom {
    /// Bytes from OpenSSL's CSPRNG (RAND_bytes); traps if the CSPRNG fails (never returns weak bytes).
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count \(count)")
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// Uniform in 0..<upperBound without modulo bias (rejection sampling); `upperBound` must be positive.
    public static func uniform(below upperBound: UInt64) -> UInt64 {
        precondition(upperBound > 0, "SecureRandom.uniform: upperBound must be positive")
        // Values below 2^64 mod upperBound would make the low residues more likely: draw again.
        let threshold = (0 &- upperBound) % upperBound
        while true {
            let value = randomUInt64()
            if value >= threshold { return value % upperBound }
        }
    }

    /// A string of `digits` decimal digits, uniform (e.g. 8 digits = 26.6 bits), leading zeros kept.
    public static func numericCode(digits: Int) -> String {
        precondition(digits >= 1, "SecureRandom.numericCode: digits must be at least 1, got \(digits)")
        // 10^19 < 2^64: draw up to 19 digits at a time, each chunk uniform, zero-padded.
        var code = ""
        code.reserveCapacity(digits)
        var remaining = digits
        while remaining > 0 {
            let chunk = min(remaining, 19)
            var bound: UInt64 = 1
            for _ in 0..<chunk { bound *= 10 }
            let text = String(uniform(below: bound))
            code += String(repeating: "0", count: chunk - text.count) + text
            remaining -= chunk
        }
        return code
    }

    static func randomUInt64() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            raw.withMemoryRebound(to: UInt8.self) { fill($0) }
        }
        return value
    }

    static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let chunk = min(buffer.count - offset, Int(Int32.max))
            guard RAND_bytes(base + offset, Int32(chunk)) == 1 else {
                fatalError("OpenSSL RAND_bytes failed: \(OpenSSLError.drain())")
            }
            offset += chunk
        }
    }
}
