import AuthCrypto

/// Page sizes and page tokens of every listing (users, dead messages).
enum Paging {
    static let defaultPageSize = 100
    static let maximumPageSize = 1000

    /// 0 means the default; more than the maximum is refused, not clamped.
    static func pageSize(_ requested: Int) throws(AuthError) -> Int {
        guard requested >= 0 else { throw .invalidArgument("page_size cannot be negative", field: "page_size") }
        if requested == 0 { return defaultPageSize }
        guard requested <= maximumPageSize else {
            throw .invalidArgument("page_size is at most \(maximumPageSize)", field: "page_size")
        }
        return requested
    }

    /// The token that continues a listing by email after `lastEmail`.
    static func emailToken(_ lastEmail: String) -> String {
        Base64URL.encode(Array(lastEmail.utf8))
    }

    static func decodeEmailToken(_ token: String) throws(AuthError) -> String? {
        guard !token.isEmpty else { return nil }
        guard let bytes = Base64URL.decode(token), let email = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("page_token is not one this server gave out", field: "page_token")
        }
        return email
    }
}
