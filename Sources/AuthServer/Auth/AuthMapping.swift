import AuthCore
import AuthWire

// Wire <-> domain for auth.v1.Auth.

extension AuthV1.AuthorizePageResponse {
    init(_ decision: PageDecision) {
        let reason: Reason = switch decision.reason {
        case .public: .public
        case .signedIn: .signedIn
        case .groupMember: .groupMember
        case .notSignedIn: .notSignedIn
        case .notInGroup: .notInGroup
        }
        self.init(allowed: decision.allowed, reason: reason, redirect: decision.redirect, matchedRule: decision.matchedRule)
    }
}
