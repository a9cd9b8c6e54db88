/// What an API key lets its holder call.
public enum KeyScope: String, Hashable, Sendable, CaseIterable {
    /// The Admin service.
    case admin
    /// The Mail service (the auth-mailer worker).
    case mailer
    /// The Auth service, when the operator requires a key there.
    case service
}

/// An API key as listed. The secret is never stored: only its SHA-256.
public struct APIKey: Hashable, Sendable {
    public var id: String
    public var name: String
    public var scope: KeyScope
    public var createdAt: Timestamp
    public var lastUsedAt: Timestamp?
    public var revokedAt: Timestamp?

    public init(id: String, name: String, scope: KeyScope, createdAt: Timestamp, lastUsedAt: Timestamp? = nil, revokedAt: Timestamp? = nil) {
        self.id = id
        self.name = name
        self.scope = scope
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

public struct NewAPIKey: Hashable, Sendable {
    public var id: String
    public var name: String
    public var scope: KeyScope
    public var secretHash: [UInt8]
    public var createdAt: Timestamp

    public init(id: String, name: String, scope: KeyScope, secretHash: [UInt8], createdAt: Timestamp) {
        self.id = id
        self.name = name
        self.scope = scope
        self.secretHash = secretHash
        self.createdAt = createdAt
    }
}

/// Which users a listing returns; nil means no filter.
public struct UserFilter: Hashable, Sendable {
    /// Already normalised (lower case).
    public var emailPrefix: String?
    public var role: String?
    /// Members of the group: users holding every role of it.
    public var group: String?
    public var blocked: Bool?

    public init(emailPrefix: String? = nil, role: String? = nil, group: String? = nil, blocked: Bool? = nil) {
        self.emailPrefix = emailPrefix
        self.role = role
        self.group = group
        self.blocked = blocked
    }

    /// The least string greater than every string that starts with `prefix`, in bytewise
    /// (UTF-8, hence code point) order, the order both stores compare emails in: `prefix`
    /// with its last scalar incremented, after dropping trailing U+10FFFF. Nil when there
    /// is none (no upper bound). A store lists a prefix as the range [prefix, bound), which
    /// needs no escaping: `%` and `_` are ordinary characters.
    public static func upperBound(ofPrefix prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // skip the surrogates, which are no scalars
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                var result = String.UnicodeScalarView()
                result.append(contentsOf: scalars)
                return String(result)
            }
        }
        return nil
    }
}

/// What an administrator changes on a user; nil and empty mean "leave as it is".
public struct AdminUserChanges: Hashable, Sendable {
    public var email: String?
    public var setAttributes: [String: String]
    public var removeAttributes: Set<String>
    /// A new PHC hash; storing one ends every session of the user.
    public var passwordHash: String?
    /// When set, the user's roles become exactly these (all must exist).
    public var roles: [String]?
    /// As `UserChanges.maximumAttributes`: checked in the write's transaction.
    public var maximumAttributes: Int?
    /// Queued in the same transaction when `email` changes the address (the word to the
    /// old address).
    public var notices: [NewOutboxMessage] = []

    public init(
        email: String? = nil,
        setAttributes: [String: String] = [:],
        removeAttributes: Set<String> = [],
        passwordHash: String? = nil,
        roles: [String]? = nil,
        maximumAttributes: Int? = nil
    ) {
        self.email = email
        self.setAttributes = setAttributes
        self.removeAttributes = removeAttributes
        self.passwordHash = passwordHash
        self.roles = roles
        self.maximumAttributes = maximumAttributes
    }
}

public struct RoleInfo: Hashable, Sendable {
    public var name: String
    public var userCount: Int

    public init(name: String, userCount: Int) {
        self.name = name
        self.userCount = userCount
    }
}

/// A named set of roles. A user is a member exactly when the user holds every one of
/// them; a group with no roles has no members.
public struct Group: Hashable, Sendable {
    public var name: String
    /// Sorted.
    public var roles: [String]

    public init(name: String, roles: [String]) {
        self.name = name
        self.roles = roles
    }

    /// Whether the roles `held` include every role of the group; made once for many groups.
    public func hasMember(holding held: RoleLookup) -> Bool {
        !roles.isEmpty && roles.allSatisfy(held.contains)
    }
}

/// A user's roles, to ask whether one is among them.
public enum RoleLookup: Sendable {
    /// Few roles: a scan of the array beats building a set on every check.
    case scan([String])
    case set(Set<String>)

    /// Up to this many roles are scanned.
    static let scanLimit = 16

    /// A scan for a short list of roles, a set for a longer one.
    public init(_ roles: [String]) {
        self = roles.count <= Self.scanLimit ? .scan(roles) : .set(Set(roles))
    }

    public func contains(_ role: String) -> Bool {
        switch self {
        case .scan(let roles): roles.contains(role)
        case .set(let roles): roles.contains(role)
        }
    }
}

public enum PageAccess: String, Hashable, Sendable {
    case `public`
    case signedIn = "signed_in"
    /// Members of any of the rule's groups.
    case groups
}

public struct PageRule: Hashable, Sendable {
    /// "/pricing" (exact), "/admin/*" (prefix) or "/cars/:id" (parameter).
    public var pattern: String
    public var access: PageAccess
    /// Sorted; only for `.groups`.
    public var groups: [String]

    public init(pattern: String, access: PageAccess, groups: [String] = []) {
        self.pattern = pattern
        self.access = access
        self.groups = groups
    }
}

/// The outcome of revoking an API key.
public enum KeyRevocation: Hashable, Sendable {
    case revoked
    /// No unrevoked key has this id.
    case notFound
    /// It is the last unrevoked admin key: revoking it would lock every operator out.
    case lastAdminKey
}

public struct RemovalCounts: Hashable, Sendable {
    public var users: Int
    public var roles: Int
    public var groups: Int
    public var pageRules: Int

    public init(users: Int, roles: Int, groups: Int, pageRules: Int) {
        self.users = users
        self.roles = roles
        self.groups = groups
        self.pageRules = pageRules
    }
}
