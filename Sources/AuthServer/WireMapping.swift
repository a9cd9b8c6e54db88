import AuthCore
import AuthWire

/// Domain values as wire messages. Wire types stop here: handlers hand the domain plain Swift values.
extension AuthWire.User {
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

extension AuthWire.Session {
    init(_ signedIn: SignedIn) {
        self.init(
            token: signedIn.token,
            idleExpiresAtMs: signedIn.session.idleExpiresAt.milliseconds,
            absoluteExpiresAtMs: signedIn.session.absoluteExpiresAt.milliseconds
        )
    }
}
