import AuthCore
import Testing

@Suite("Page patterns")
struct PagePatternTests {
    private let rules = [
        PageRule(pattern: "/", access: .public),
        PageRule(pattern: "/*", access: .signedIn),
        PageRule(pattern: "/cars/*", access: .public),
        PageRule(pattern: "/cars/:id", access: .signedIn),
        PageRule(pattern: "/cars/new", access: .groups, groups: ["Admin"]),
        PageRule(pattern: "/cars/:id/edit", access: .groups, groups: ["Admin"]),
        PageRule(pattern: "/admin/*", access: .groups, groups: ["Admin"]),
        PageRule(pattern: "/admin/reports/*", access: .groups, groups: ["Admin Premium"]),
    ]

    @Test("the most specific rule wins", arguments: [
        ("/", "/"),
        ("/pricing", "/*"),
        ("/cars", "/cars/*"),
        ("/cars/42", "/cars/:id"),
        ("/cars/new", "/cars/new"),
        ("/cars/42/edit", "/cars/:id/edit"),
        ("/cars/42/photos/3", "/cars/*"),
        ("/admin", "/admin/*"),
        ("/admin/users/7", "/admin/*"),
        ("/admin/reports", "/admin/reports/*"),
        ("/admin/reports/2026/q3", "/admin/reports/*"),
        ("/cars/42?tab=photos#top", "/cars/:id"),
        ("/cars/42/", "/cars/:id"),
    ])
    func bestRule(path: String, expected: String) throws {
        #expect(PagePattern.bestRule(for: try PagePath(path), in: rules)?.pattern == expected)
    }

    @Test("no rule, no match")
    func noMatch() throws {
        #expect(PagePattern.bestRule(for: try PagePath("/pricing"), in: [PageRule(pattern: "/cars/:id", access: .public)]) == nil)
        #expect(PagePattern.bestRule(for: try PagePath("/cars"), in: [PageRule(pattern: "/cars/:id", access: .public)]) == nil)
    }

    @Test("malformed patterns are refused with a reason", arguments: [
        ("cars", "must start with /"),
        ("/cars//x", "empty segment"),
        ("/cars/", "empty segment"),
        ("/*/x", "only as its last segment"),
        ("/car*", "only as a whole last segment"),
        ("/cars/:", "parameter without a name"),
        ("/a b", "space"),
        ("/a?b", "?"),
    ])
    func malformed(pattern: String, reason: String) {
        let error = #expect(throws: AuthError.self) { try PagePattern.validate(pattern) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.field == "rule.pattern")
    }

    @Test("a group with no roles has no members; otherwise every role is needed, scanned or in a set")
    func groupMembership() {
        let many = (0..<40).map { "R\($0)" }
        for extra in [[], many] {
            #expect(!Group(name: "empty", roles: []).hasMember(holding: RoleLookup(["Admin"] + extra)))
            let both = Group(name: "Admin Premium", roles: ["Admin", "Premium"])
            #expect(both.hasMember(holding: RoleLookup(["Premium", "Admin", "Other"] + extra)))
            #expect(!both.hasMember(holding: RoleLookup(["Admin"] + extra)))
        }
        if case .scan = RoleLookup(["Admin"]) {} else { Issue.record("a short list is scanned") }
        if case .set = RoleLookup(many) {} else { Issue.record("a long list is a set") }
    }
}
