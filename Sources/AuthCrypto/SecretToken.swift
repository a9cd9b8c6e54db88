/// Bearer secrets (session tokens, API keys): random enough that a fast hash is a safe thing to store,
/// with a recognisable prefix so secret scanners can find leaked ones.
public enum SecretToken {
    /// "<prefix><base64url of `byteCount` CSPRNG bytes>", e.g. prefix "authd_st_" for session tokens, 32 bytes = 256 bits.
    /// `byteCount` must be at least 16 (128 bits): anything shorter is a bug, not a choice.
    public static func make(prefix: String, byteCount: Int = 32) -> String {
        precondition(byteCount >= 16, "SecretToken.make: byteCount must be at least 16, got \(byteCount)")
        return prefix + Base64URL.encode(SecureRandom.bytes(byteCount))
    }

    /// SHA-256 of the whole token string: what gets stored and looked up.
    public static func hash(_ token: String) -> [UInt8] {
        Digest.sha256(token)
    }
}
