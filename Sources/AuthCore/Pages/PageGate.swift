/// Answers `AuthorizePage`: the most specific page rule decides, against the visitor's
/// session and groups. The path is matched in its normal form (`PagePath`). A path no
/// rule matches gets the `unmatched_page_access` setting: public unless the operator
/// gates by default.
public struct PageGate: Sendable {
    private let sessions: SessionAuthenticator
    private let directory: Directory

    public init(sessions: SessionAuthenticator, directory: Directory) {
        self.sessions = sessions
        self.directory = directory
    }

    public func authorize(token: String, path: String) async throws(AuthError) -> PageDecision {
        let snapshot = try await directory.snapshot()
        let settings = snapshot.settings
        let normal = try PagePath(path, caseInsensitive: settings.pagePathsCaseInsensitive)
        // No rule: the default access, as if a rule with no pattern had matched.
        let rule = PagePattern.bestRule(for: normal, in: snapshot.pageRules)
            ?? PageRule(pattern: "", access: settings.unmatchedPageAccess)
        if rule.access == .public {
            return PageDecision(allowed: true, reason: .public, matchedRule: rule.pattern)
        }
        let user: User
        do throws(AuthError) {
            guard !token.isEmpty else { throw AuthError.invalidSession }
            user = try await sessions.authenticate(token: token).user
        } catch {
            guard error.code == .unauthenticated else { throw error }
            return PageDecision(allowed: false, reason: .notSignedIn, redirect: settings.signInRedirect, matchedRule: rule.pattern)
        }
        if rule.access == .signedIn {
            return PageDecision(allowed: true, reason: .signedIn, matchedRule: rule.pattern)
        }
        let memberOf = Set(snapshot.groupNames(of: user))
        if rule.groups.contains(where: memberOf.contains) {
            return PageDecision(allowed: true, reason: .groupMember, matchedRule: rule.pattern)
        }
        return PageDecision(allowed: false, reason: .notInGroup, redirect: settings.forbiddenRedirect, matchedRule: rule.pattern)
    }
}
