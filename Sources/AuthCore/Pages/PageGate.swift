/// Answers `AuthorizePage`: the most specific page rule decides, against the visitor's
/// session and groups. A path no rule matches is public; add a "/*" rule to turn that
/// around.
public struct PageGate: Sendable {
    private let sessions: SessionAuthenticator
    private let directory: Directory

    public init(sessions: SessionAuthenticator, directory: Directory) {
        self.sessions = sessions
        self.directory = directory
    }

    public func authorize(token: String, path: String) async throws(AuthError) -> PageDecision {
        guard path.hasPrefix("/"), path.utf8.count <= 2048 else {
            throw .invalidArgument("path must start with / and have at most 2048 characters", field: "path")
        }
        let snapshot = try await directory.snapshot()
        guard let rule = PagePattern.bestRule(for: path, in: snapshot.pageRules) else {
            return PageDecision(allowed: true, reason: .public)
        }
        if rule.access == .public {
            return PageDecision(allowed: true, reason: .public, matchedRule: rule.pattern)
        }
        let settings = snapshot.settings
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
