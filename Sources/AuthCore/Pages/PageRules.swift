/// Page patterns, the normal form of a request path, and the rule that decides it.
///
/// Patterns: "/pricing" (exact), "/admin/*" (prefix: "/admin" and everything below it),
/// "/cars/:id" (a parameter matches one non-empty segment). The most specific matching
/// rule wins: segments are compared left to right, a literal beats a parameter, which
/// beats the prefix wildcard, so "/cars/new" beats "/cars/:id" beats "/cars/*" beats "/*".
///
/// A path is matched in its normal form (`PagePath`), so that a backend whose router
/// normalises paths cannot be led past a rule by a spelling of the path its router
/// reads as the same page.
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
        guard !pattern.unicodeScalars.contains(where: { $0.value <= 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "?" || $0 == "#" }) else {
            throw .invalidArgument("pattern has a space, control character (C0, DEL or C1), ? or #", field: field)
        }
        guard !pattern.unicodeScalars.contains(where: { $0 == "%" || $0 == ";" || $0 == "\\" }) else {
            throw .invalidArgument(
                "pattern '\(pattern)' has %, ; or \\; write the path as it reads decoded (paths are matched decoded, without path parameters)",
                field: field)
        }
        if pattern == "/" { return [] }
        let parts = pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var segments: [Segment] = []
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                throw .invalidArgument("pattern '\(pattern)' has an empty segment (// or a trailing /)", field: field)
            } else if part == "." || part == ".." {
                throw .invalidArgument("pattern '\(pattern)' has a . or .. segment; paths are matched with those removed", field: field)
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

    /// `pattern`'s literals are already lower-cased when the path is (`PageRuleSet`).
    static func matches(_ pattern: [Segment], _ path: [String]) -> Bool {
        for (index, segment) in pattern.enumerated() {
            switch segment {
            case .wildcard:
                return true  // the wildcard is last: "/admin/*" matches "/admin" and below
            case .parameter:
                guard index < path.count else { return false }
            case .literal(let literal):
                guard index < path.count else { return false }
                guard path[index] == literal else { return false }
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

    /// The most specific rule matching `path` (in its normal form), if any.
    public static func bestRule(for path: PagePath, in rules: [PageRule]) -> PageRule? {
        PageRuleSet(rules).bestRule(for: path)
    }
}

/// Page rules with their patterns parsed once, when the directory loads them, so that
/// matching a path (every AuthorizePage) parses nothing.
public struct PageRuleSet: Sendable {
    private struct Compiled: Sendable {
        let rule: PageRule
        let segments: [PagePattern.Segment]
        /// The same with literals lower-cased, for case-insensitive matching.
        let lowercased: [PagePattern.Segment]
    }

    private let compiled: [Compiled]

    public init(_ rules: [PageRule]) {
        compiled = rules.compactMap { rule in
            guard let segments = try? PagePattern.segments(of: rule.pattern, field: "pattern") else { return nil }
            let lowercased = segments.map { segment -> PagePattern.Segment in
                if case .literal(let literal) = segment { return .literal(literal.lowercased()) }
                return segment
            }
            return Compiled(rule: rule, segments: segments, lowercased: lowercased)
        }
    }

    /// The most specific rule matching `path` (in its normal form), if any.
    public func bestRule(for path: PagePath) -> PageRule? {
        // By index: a rule is copied (its strings retained) once, the winner, not at each lead.
        var best: Int?
        for index in compiled.indices {
            let matches = path.caseInsensitive
                ? PagePattern.matches(compiled[index].lowercased, path.segments)
                : PagePattern.matches(compiled[index].segments, path.segments)
            guard matches else { continue }
            if best.map({ PagePattern.moreSpecific(compiled[index].segments, than: compiled[$0].segments) }) ?? true {
                best = index
            }
        }
        return best.map { compiled[$0].rule }
    }
}

/// A request path in the normal form page rules are matched against.
///
/// The steps, in order (docs/protocol.md, "Page paths"):
/// 1. the path must start with "/" and have at most 2048 bytes;
/// 2. the query ("?…") and fragment ("#…") are dropped;
/// 3. a backslash is read as "/", as browsers and several routers read it;
/// 4. each segment loses its path parameters (";x=1", as servlet containers drop them);
/// 5. each segment is percent-decoded; a segment that decodes to "/", a backslash, ";",
///    "?", "#", NUL or another control character (C0, DEL, C1), or to bytes that are not UTF-8, is refused:
///    no router agrees on what such a path means;
/// 6. empty segments ("//", a trailing "/") are dropped;
/// 7. "." and ".." segments are removed (RFC 3986 §5.2.4); a ".." above "/" is refused;
/// 8. with case-insensitive matching, segments are lower-cased.
public struct PagePath: Hashable, Sendable {
    public static let maximumLength = 2048

    public let segments: [String]
    public let caseInsensitive: Bool

    public init(_ raw: String, caseInsensitive: Bool = false, field: String = "path") throws(AuthError) {
        guard raw.hasPrefix("/") else {
            throw .invalidArgument("path must be absolute (start with /)", field: field)
        }
        guard raw.utf8.count <= Self.maximumLength else {
            throw .invalidArgument("path has more than \(Self.maximumLength) bytes", field: field)
        }
        let all = Array(raw.utf8)
        let end = all.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) ?? all.endIndex
        let bytes = all[..<end]
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .invalidArgument("path contains a control character", field: field)
        }
        var segments: [String] = []
        segments.reserveCapacity(8)
        // Segments cut at "/" and "\\" in place, without an array of the pieces.
        var start = bytes.startIndex
        var more = true
        while more {
            let stop = bytes[start...].firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) ?? bytes.endIndex
            more = stop < bytes.endIndex
            var part = bytes[start..<stop]
            start = more ? stop + 1 : stop
            if let semicolon = part.firstIndex(of: UInt8(ascii: ";")) {
                part = part[..<semicolon]
            }
            let decoded = try Self.percentDecoded(part, field: field)
            switch decoded {
            case "":
                continue
            case ".":
                continue
            case "..":
                guard !segments.isEmpty else {
                    throw .invalidArgument("path climbs above / with ..", field: field)
                }
                segments.removeLast()
            default:
                segments.append(caseInsensitive ? decoded.lowercased() : decoded)
            }
        }
        self.segments = segments
        self.caseInsensitive = caseInsensitive
    }

    /// The normal form as a path: "/admin/fleet".
    public var description: String {
        "/" + segments.joined(separator: "/")
    }

    private static func percentDecoded(_ part: ArraySlice<UInt8>, field: String) throws(AuthError) -> String {
        // Nothing to decode: the bytes are a piece of a Swift string cut at ASCII bytes,
        // so they are UTF-8 already (the common case, taken without a copy to validate).
        guard part.contains(UInt8(ascii: "%")) else {
            return try refusingC1Controls(String(decoding: part, as: UTF8.self), field: field)
        }
        var out: [UInt8] = []
        out.reserveCapacity(part.count)
        var index = part.startIndex
        while index < part.endIndex {
            let byte = part[index]
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                index += 1
                continue
            }
            guard let high = hexValue(part[safe: index + 1]), let low = hexValue(part[safe: index + 2]) else {
                throw .invalidArgument("path has a % that is not followed by two hex digits", field: field)
            }
            let decoded = high << 4 | low
            let delimiters: [UInt8] = [UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: ";"), UInt8(ascii: "?"), UInt8(ascii: "#")]
            if decoded < 0x20 || decoded == 0x7F || delimiters.contains(decoded) {
                throw .invalidArgument(
                    "path has an encoded delimiter or control character (\(percentEncoded(decoded))); such paths are refused",
                    field: field)
            }
            out.append(decoded)
            index += 3
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw .invalidArgument("path does not decode to UTF-8", field: field)
        }
        return try refusingC1Controls(text, field: field)
    }

    /// C1 controls (U+0080–U+009F), raw or encoded (%C2%80): controls like those below 0x20.
    private static func refusingC1Controls(_ text: String, field: String) throws(AuthError) -> String {
        // In UTF-8 each starts with the byte C2: text without one has none to look for.
        guard text.utf8.contains(0xC2) else { return text }
        if text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }) {
            throw .invalidArgument("path contains a C1 control character (U+0080–U+009F); such paths are refused", field: field)
        }
        return text
    }

    /// "%00", "%2F": two hex digits, as the byte was written.
    private static func percentEncoded(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "%" + (hex.count == 1 ? "0" + hex : hex)
    }

    private static func hexValue(_ byte: UInt8?) -> UInt8? {
        guard let byte else { return nil }
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension ArraySlice {
    fileprivate subscript(safe index: Index) -> Element? {
        indices.contains(index) ? self[index] : nil
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
