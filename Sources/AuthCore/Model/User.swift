import AuthCrypto

/// A user's id: a lower-case UUID string, stable and safe to copy into other systems.
public struct UserID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// A fresh random (version 4) UUID.
    public static func generate() -> Self {
        var bytes = SecureRandom.bytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.encode(bytes)
        let cuts = [0, 8, 12, 16, 20, 32].map { hex.index(hex.startIndex, offsetBy: $0) }
        let groups = (0..<5).map { String(hex[cuts[$0]..<cuts[$0 + 1]]) }
        return Self(rawValue: groups.joined(separator: "-"))
    }

    public var description: String { rawValue }
}

/// A user as the domain sees it. Holds no secret: the password hash stays in the store.
public struct User: Hashable, Sendable {
    public var id: UserID
    /// Normalised: see `EmailAddress`.
    public var email: String
    public var attributes: [String: String]
    /// Sorted by name.
    public var roles: [String]
    public var blocked: Bool
    public var hasPassword: Bool
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: UserID,
        email: String,
        attributes: [String: String] = [:],
        roles: [String] = [],
        blocked: Bool = false,
        hasPassword: Bool,
        createdAt: Timestamp,
        updatedAt: Timestamp
    ) {
        self.id = id
        self.email = email
        self.attributes = attributes
        self.roles = roles
        self.blocked = blocked
        self.hasPassword = hasPassword
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A user about to be stored.
public struct NewUser: Hashable, Sendable {
    public var id: UserID
    public var email: String
    public var attributes: [String: String]
    public var roles: [String]
    /// PHC string; nil for a user without a password (invited, not yet accepted).
    public var passwordHash: String?
    public var createdAt: Timestamp

    public init(
        id: UserID = .generate(),
        email: String,
        attributes: [String: String] = [:],
        roles: [String] = [],
        passwordHash: String?,
        createdAt: Timestamp
    ) {
        self.id = id
        self.email = email
        self.attributes = attributes
        self.roles = roles
        self.passwordHash = passwordHash
        self.createdAt = createdAt
    }
}

/// What a profile update changes; nil and empty mean "leave as it is".
public struct UserChanges: Hashable, Sendable {
    public var email: String?
    public var setAttributes: [String: String]
    public var removeAttributes: Set<String>
    /// When set, the store refuses the change (writing nothing) if the user would end up
    /// with more attributes: checked in the write's transaction, so that parallel changes
    /// cannot pass the limit together.
    public var maximumAttributes: Int?

    public init(
        email: String? = nil,
        setAttributes: [String: String] = [:],
        removeAttributes: Set<String> = [],
        maximumAttributes: Int? = nil
    ) {
        self.email = email
        self.setAttributes = setAttributes
        self.removeAttributes = removeAttributes
        self.maximumAttributes = maximumAttributes
    }
}

/// A user with the secret needed to check a password.
public struct UserCredentials: Hashable, Sendable {
    public var user: User
    public var passwordHash: String?

    public init(user: User, passwordHash: String?) {
        self.user = user
        self.passwordHash = passwordHash
    }
}

/// What a profile update did: the user as it is now, and an email change it started.
public struct ProfileUpdate: Hashable, Sendable {
    public var user: User
    /// The address a confirmation code went to; the change waits for it.
    public var pendingEmail: String?
    public var codeValidity: Duration?

    public init(user: User, pendingEmail: String? = nil, codeValidity: Duration? = nil) {
        self.user = user
        self.pendingEmail = pendingEmail
        self.codeValidity = codeValidity
    }
}
