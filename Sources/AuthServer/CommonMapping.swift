import AuthCore
import AuthWire

// Wire <-> domain for the messages of common.proto, which every service uses. Wire types
// stop at the handlers: the domain gets plain Swift values.

extension AuthV1.User {
    init(_ user: AuthCore.User, groups: [String] = []) {
        self.init(
            id: user.id.rawValue,
            email: user.email,
            attributes: user.attributes,
            roles: user.roles,
            groups: groups,
            blocked: user.blocked,
            hasPassword: user.hasPassword,
            createdAtMs: user.createdAt.milliseconds,
            updatedAtMs: user.updatedAt.milliseconds
        )
    }
}

extension AuthV1.Session {
    init(_ signedIn: SignedIn) {
        self.init(
            token: signedIn.token,
            idleExpiresAtMs: signedIn.session.idleExpiresAt.milliseconds,
            absoluteExpiresAtMs: signedIn.session.absoluteExpiresAt.milliseconds
        )
    }
}
