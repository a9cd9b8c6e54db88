/// Checks and normalises what end users type. Every failure names the field.
public enum Validation {
    public static let maximumEmailLength = 254

    /// The one rule every entry point applies (sign-up, login, reset, import, invitation,
    /// admin create and update): trimmed, checked to be ASCII *before* anything else, then
    /// lower-cased (ASCII letters only) and checked: one "@", a local part of at most 64
    /// characters of RFC 5322 atext and dots, a domain of dot-separated LDH labels with at
    /// least one dot. Non-ASCII is refused rather than folded: Unicode case mapping sends
    /// characters a person reads as different to one account ("K", the Kelvin sign, is "k").
    /// Internationalised domains arrive as punycode (xn--…).
    public static func normalizedEmail(_ raw: String, field: String = "email") throws(AuthError) -> String {
        // Bounded before any work: the length of the raw value is the caller's choice.
        guard raw.utf8.count <= maximumEmailLength + 64 else {
            throw .invalidArgument("\(field) is longer than \(maximumEmailLength) characters", field: field)
        }
        let trimmed = raw.trimmingWhitespace()
        guard trimmed.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw .invalidArgument(
                "\(field) must be ASCII; write an internationalised domain in punycode (xn--…)", field: field)
        }
        let email = String(decoding: trimmed.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
        guard !email.isEmpty else {
            throw .invalidArgument("\(field) is required", field: field)
        }
        guard email.utf8.count <= maximumEmailLength else {
            throw .invalidArgument("\(field) is longer than \(maximumEmailLength) characters", field: field)
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .invalidArgument("\(field) must contain exactly one @", field: field)
        }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64 else {
            throw .invalidArgument("\(field) must have 1 to 64 characters before the @", field: field)
        }
        let atext = Set("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-.".utf8)
        guard local.utf8.allSatisfy(atext.contains),
            local.first != ".", local.last != ".", !local.contains("..")
        else {
            throw .invalidArgument("\(field) has a character that is not allowed before the @", field: field)
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let ldh = Set("abcdefghijklmnopqrstuvwxyz0123456789-".utf8)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy(ldh.contains)
                    && label.first != "-" && label.last != "-"
            })
        else {
            throw .invalidArgument("\(field) must end in a domain such as example.com", field: field)
        }
        return email
    }

    /// The mailbox a normalised email delivers to, for mail quotas: the local part without
    /// its "+tag" (subaddressing, which most providers deliver to the same inbox).
    /// "ada+1@x.example" and "ada+2@x.example" are one mailbox; they stay two accounts.
    public static func mailbox(of email: String) -> String {
        guard let at = email.lastIndex(of: "@") else { return email }
        let local = email[..<at]
        let base = local.firstIndex(of: "+").map { local[..<$0] } ?? local
        return String(base.isEmpty ? local : base) + email[at...]
    }

    /// Bounds on string attributes: count, name shape, value size.
    public struct AttributeLimits: Hashable, Sendable {
        public var maximumCount: Int
        public var maximumNameLength: Int
        public var maximumValueBytes: Int

        public init(maximumCount: Int = 64, maximumNameLength: Int = 64, maximumValueBytes: Int = 4096) {
            self.maximumCount = maximumCount
            self.maximumNameLength = maximumNameLength
            self.maximumValueBytes = maximumValueBytes
        }

        public static var defaults: Self { Self() }
    }

    /// Names are 1 to `maximumNameLength` of [A-Za-z0-9_.-]; values are UTF-8 of at most
    /// `maximumValueBytes` without control characters (C0 but tab, CR and LF; DEL; C1) and
    /// without bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
    /// make a value display as something other than what it is ("Trojan Source").
    public static func checkAttributes(
        _ attributes: [String: String],
        limits: AttributeLimits,
        field: String = "attributes"
    ) throws(AuthError) {
        for name in attributes.keys.sorted() {
            try checkAttributeName(name, limits: limits, field: field)
            let value = attributes[name]!
            let path = "\(field)[\(name)]"
            guard value.utf8.count <= limits.maximumValueBytes else {
                throw .invalidArgument("\(path) is longer than \(limits.maximumValueBytes) bytes", field: path)
            }
            if let bad = value.unicodeScalars.first(where: isForbiddenInValues) {
                let hex = String(bad.value, radix: 16, uppercase: true)
                throw .invalidArgument(
                    "\(path) contains U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex), a control or bidirectional-override character",
                    field: path)
            }
        }
    }

    /// A one-line label shown in lists and logs (an API key's name): no control character
    /// at all (C0 with tab, CR and LF; DEL; C1) and no bidirectional override or isolate,
    /// so that the label cannot forge a log line or display as another.
    public static func checkLabel(_ label: String, field: String) throws(AuthError) {
        if let bad = label.unicodeScalars.first(where: { $0.value < 0x20 || isForbiddenInValues($0) }) {
            let hex = String(bad.value, radix: 16, uppercase: true)
            throw .invalidArgument(
                "\(field) contains U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex), a control or bidirectional-override character",
                field: field)
        }
    }

    private static func isForbiddenInValues(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: false
        case 0x00..<0x20, 0x7F...0x9F: true
        case 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// A user has at most `limits.maximumCount` attributes.
    public static func checkAttributeCount(_ count: Int, limits: AttributeLimits) throws(AuthError) {
        guard count <= limits.maximumCount else {
            throw .invalidArgument("a user has at most \(limits.maximumCount) attributes, this would make \(count)", field: "attributes")
        }
    }

    public static func checkAttributeName(_ name: String, limits: AttributeLimits, field: String = "attributes") throws(AuthError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-".utf8)
        guard !name.isEmpty, name.utf8.count <= limits.maximumNameLength, name.utf8.allSatisfy(allowed.contains) else {
            throw .invalidArgument(
                "attribute name '\(name)' must be 1 to \(limits.maximumNameLength) of A-Z a-z 0-9 _ . -",
                field: "\(field)[\(name)]"
            )
        }
    }

    /// Bounds on passwords, counted in characters as a person sees them.
    public struct PasswordPolicy: Hashable, Sendable {
        /// 6 at least: the product's floor.
        public var minimumLength: Int
        /// Between 64 and 1024.
        public var maximumLength: Int

        public init(minimumLength: Int = 6, maximumLength: Int = 1024) {
            precondition(minimumLength >= 6, "the minimum password length cannot go below 6")
            precondition((64...1024).contains(maximumLength), "the maximum password length must be 64...1024")
            precondition(minimumLength <= maximumLength)
            self.minimumLength = minimumLength
            self.maximumLength = maximumLength
        }

        public static var defaults: Self { Self() }
    }

    /// What every call that takes a password checks before any other work (even a login,
    /// which has no minimum to check): at most `maximumLength` characters — counting at
    /// most one past it, since hashing or even counting a password of megabytes is what a
    /// flood of such calls would cost — and no NUL.
    public static func checkPasswordBounds(_ password: String, policy: PasswordPolicy, field: String = "password") throws(AuthError) {
        let maximum = policy.maximumLength
        guard password.utf8.count <= maximum || password.prefix(maximum + 1).count <= maximum else {
            throw .invalidArgument("\(field) must have at most \(maximum) characters", field: field)
        }
        guard !password.utf8.contains(0) else {
            throw .invalidArgument("\(field) contains a NUL character", field: field)
        }
    }

    public static func checkPassword(_ password: String, policy: PasswordPolicy, field: String = "password") throws(AuthError) {
        try checkPasswordBounds(password, policy: policy, field: field)
        let length = password.count
        guard length >= policy.minimumLength else {
            throw .invalidArgument("\(field) must have at least \(policy.minimumLength) characters", field: field)
        }
        guard length <= policy.maximumLength else {
            throw .invalidArgument("\(field) must have at most \(policy.maximumLength) characters", field: field)
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[start...end])
    }
}
