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
        let rule = try Self.rule(for: path, in: snapshot)
        guard rule.access != .public else { return Self.decide(rule, in: snapshot, visitor: nil) }
        let user: User?
        do throws(AuthError) {
            guard !token.isEmpty else { throw AuthError.invalidSession }
            user = try await sessions.authenticate(token: token).user
        } catch {
            guard error.code == .unauthenticated else { throw error }
            user = nil
        }
        return Self.decide(rule, in: snapshot, visitor: user)
    }

    /// The same decision from memory alone (the loaded directory snapshot and the session
    /// cache), as the bytes `encode` makes of it; nil when either lacks what it needs, and
    /// the caller takes `authorize`. A signed-in visitor's bytes are kept with the cached
    /// session per path, so that a repeated check parses, matches and encodes nothing.
    public func authorizeFromMemory(
        token: String,
        path: String,
        encode: (PageDecision) -> [UInt8]
    ) throws(AuthError) -> [UInt8]? {
        guard let snapshot = directory.loadedSnapshot() else { return nil }
        func answer(_ visitor: User?) throws(AuthError) -> [UInt8] {
            encode(Self.decide(try Self.rule(for: path, in: snapshot), in: snapshot, visitor: visitor))
        }
        guard !token.isEmpty else { return try answer(nil) }
        // Kept per path (the rule it matches comes from the snapshot, the basis), so that a
        // repeated check neither parses the path nor matches the rules again.
        let key = KeptAnswerKey("AuthorizePage", path)
        switch try sessions.answerFromMemory(token: token, key: key, basis: snapshot, derive: { found throws(AuthError) in
            try answer(found.user)
        }) {
        case .valid(let encoded):
            return encoded
        case .invalid:
            return try answer(nil)
        case .unknown:
            // A public page needs no session: answered here all the same.
            let rule = try Self.rule(for: path, in: snapshot)
            return rule.access == .public ? encode(Self.decide(rule, in: snapshot, visitor: nil)) : nil
        }
    }

    /// The most specific rule for the path's normal form; no rule is the default access,
    /// as if a rule with no pattern had matched.
    ///
    /// The settings are read field by field here and below, not copied out of the
    /// snapshot whole: a copy retains every string in them, on every check.
    private static func rule(for path: String, in snapshot: Directory.Snapshot) throws(AuthError) -> PageRule {
        let normal = try PagePath(path, caseInsensitive: snapshot.settings.pagePathsCaseInsensitive)
        return snapshot.pageRuleSet.bestRule(for: normal)
            ?? PageRule(pattern: "", access: snapshot.settings.unmatchedPageAccess)
    }

    /// `visitor` is nil for no session or one that is invalid or expired.
    private static func decide(_ rule: PageRule, in snapshot: Directory.Snapshot, visitor: User?) -> PageDecision {
        if rule.access == .public {
            return PageDecision(allowed: true, reason: .public, matchedRule: rule.pattern)
        }
        guard let user = visitor else {
            return PageDecision(allowed: false, reason: .notSignedIn, redirect: snapshot.settings.signInRedirect, matchedRule: rule.pattern)
        }
        if rule.access == .signedIn {
            return PageDecision(allowed: true, reason: .signedIn, matchedRule: rule.pattern)
        }
        if rule.groups.contains(where: { snapshot.isMember(user, ofGroupNamed: $0) }) {
            return PageDecision(allowed: true, reason: .groupMember, matchedRule: rule.pattern)
        }
        return PageDecision(allowed: false, reason: .notInGroup, redirect: snapshot.settings.forbiddenRedirect, matchedRule: rule.pattern)
    }
}
