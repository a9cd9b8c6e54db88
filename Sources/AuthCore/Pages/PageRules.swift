/// Page patterns and the rule that decides a path.
///
/// Patterns: "/pricing" (exact), "/admin/*" (prefix: "/admin" and everything below it),
/// "/cars/:id" (a parameter matches one non-empty segment). The most specific matching
/// rule wins: segments are compared left to right, a literal beats a parameter, which
/// beats the prefix wildcard, so "/cars/new" beats "/cars/:id" beats "/cars/*" beats "/*".
public enum PagePattern {
    enum Segment: Hashable {
        case literal(String)
        case parameter
        case wildcard

        var rank: Int {
            switch self {
            case .literal: 3
            case .parameter: 2
            case .wildcard: 1
            }
        }
    }

    public static let maximumLength = 1024

    /// Checks a pattern and returns it unchanged; the message says what is wrong.
    public static func validate(_ pattern: String, field: String = "rule.pattern") throws(AuthError) -> String {
        _ = try segments(of: pattern, field: field)
        return pattern
    }

    static func segments(of pattern: String, field: String) throws(AuthError) -> [Segment] {
        guard pattern.hasPrefix("/") else {
            throw .invalidArgument("pattern '\(pattern)' must start with /", field: field)
        }
        guard pattern.utf8.count <= maximumLength else {
            throw .invalidArgument("pattern is longer than \(maximumLength) characters", field: field)
        }
        guard !pattern.unicodeScalars.contains(where: { $0.value <= 0x20 || $0 == "?" || $0 == "#" }) else {
            throw .invalidArgument("pattern '\(pattern)' has a space, control character, ? or #", field: field)
        }
        if pattern == "/" { return [] }
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var segments: [Segment] = []
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                throw .invalidArgument("pattern '\(pattern)' has an empty segment (// or a trailing /)", field: field)
            } else if part == "*" {
                guard index == parts.count - 1 else {
                    throw .invalidArgument("pattern '\(pattern)' may have * only as its last segment", field: field)
                }
                segments.append(.wildcard)
            } else if part.hasPrefix(":") {
                guard part.count > 1 else {
                    throw .invalidArgument("pattern '\(pattern)' has a parameter without a name", field: field)
                }
                segments.append(.parameter)
            } else if part.contains("*") {
                throw .invalidArgument("pattern '\(pattern)' may use * only as a whole last segment", field: field)
            } else {
                segments.append(.literal(String(part)))
            }
        }
        return segments
    }

    /// The path's segments: query and fragment dropped, a trailing slash ignored.
    static func pathSegments(_ path: String) -> [Substring] {
        let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? path.endIndex
        return path[..<end].split(separator: "/", omittingEmptySubsequences: true)
    }

    static func matches(_ pattern: [Segment], _ path: [Substring]) -> Bool {
        for (index, segment) in pattern.enumerated() {
            switch segment {
            case .wildcard:
                return true  // the wildcard is last: "/admin/*" matches "/admin" and below
            case .parameter:
                guard index < path.count else { return false }
            case .literal(let literal):
                guard index < path.count, path[index] == literal else { return false }
            }
        }
        return pattern.count == path.count
    }

    /// True when `lhs` is more specific than `rhs`, both matching one path. Where one
    /// pattern ends and the other goes on, the other goes on with a wildcard (or it could
    /// not match the same path), and ending exactly is the more specific.
    static func moreSpecific(_ lhs: [Segment], than rhs: [Segment]) -> Bool {
        let endRank = 4
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index].rank : endRank
            let right = index < rhs.count ? rhs[index].rank : endRank
            if left != right { return left > right }
        }
        return false
    }

    /// The most specific rule matching `path`, if any.
    public static func bestRule(for path: String, in rules: [PageRule]) -> PageRule? {
        let segments = pathSegments(path)
        var best: (rule: PageRule, segments: [Segment])?
        for rule in rules {
            guard let ruleSegments = try? Self.segments(of: rule.pattern, field: "pattern"),
                matches(ruleSegments, segments)
            else { continue }
            if best == nil || moreSpecific(ruleSegments, than: best!.segments) {
                best = (rule, ruleSegments)
            }
        }
        return best?.rule
    }
}

/// The answer to "may this visitor see this page".
public struct PageDecision: Hashable, Sendable {
    public enum Reason: Hashable, Sendable {
        case `public`
        case signedIn
        case groupMember
        case notSignedIn
        case notInGroup
    }

    public var allowed: Bool
    public var reason: Reason
    /// Where to send a refused visitor; empty when allowed.
    public var redirect: String
    /// The pattern of the deciding rule; empty when no rule matched (public by default).
    public var matchedRule: String

    public init(allowed: Bool, reason: Reason, redirect: String = "", matchedRule: String = "") {
        self.allowed = allowed
        self.reason = reason
        self.redirect = redirect
        self.matchedRule = matchedRule
    }
}
