internal import COpenSSL

// Fetched once: an explicit fetch skips OpenSSL 3's per-call implicit algorithm lookup on the token-check hot path.
// An EVP_MD is immutable once fetched and safe to share between threads.
nonisolated(unsafe) private let sha256Algorithm: OpaquePointer = {
    guard let algorithm = EVP_MD_fetch(nil, "SHA256", nil) else {
        fatalError("OpenSSL has no SHA256: \(OpenSSLError.drain())")
    }
    return algorithm
}()

/// Hashes for lookups of high-entropy secrets (session tokens, codes), via OpenSSL's EVP interface.
public enum Digest {
    /// The 32-byte SHA-256 of `bytes`; traps only if OpenSSL itself fails (out of memory).
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ sha256(UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { sha256($0) }
    }

    /// The SHA-256 of the string's UTF-8 bytes.
    public static func sha256(_ string: String) -> [UInt8] {
        var string = string
        return string.withUTF8 { sha256(UnsafeRawBufferPointer($0)) }
    }

    static func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { output, initialized in
            var length: UInt32 = 0
            guard EVP_Digest(data.baseAddress, data.count, output.baseAddress, &length, sha256Algorithm, nil) == 1,
                length == 32
            else {
                fatalError("OpenSSL SHA-256 failed: \(OpenSSLError.drain())")
            }
            initialized = 32
        }
    }
}

/// Comparison of secrets (hashes, MACs) whose timing must not reveal how many leading bytes matched.
public enum ConstantTime {
    /// CRYPTO_memcmp; false for different lengths (length is not secret).
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}
