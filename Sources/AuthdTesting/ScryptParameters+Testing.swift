public import AuthCrypto

extension ScryptParameters {
    /// Cheap (1 MiB, ~1 ms): a test hashes passwords by the hundred. Known to be valid, so
    /// the force can only fail if validation itself changes.
    public static let testing = try! ScryptParameters(logN: 10, r: 8, p: 1)
}
