/// One configuration key of a program: its name, what values it allows, and where in the
/// program's configuration value (`Root`) it lives. The default is whatever `Root`'s default
/// value holds there, so defaults are written once, in the configuration structs.
///
/// A key is dotted camelCase (`throttle.loginPerAccount.freeFailures`): the JSON file nests
/// it, the flag is `--throttle-login-per-account-free-failures` and the environment variable
/// `PREFIX_THROTTLE_LOGIN_PER_ACCOUNT_FREE_FAILURES`, as swift-configuration encodes keys.
public struct Setting<Root> {
    public let key: String
    public let kind: SettingKind
    public let help: String
    /// Shown as `<redacted>` by `--print-config`: an API key, a password.
    public let isSecret: Bool
    /// Older environment variable names still read, after the one the key gives.
    public let environmentAliases: [String]
    /// What `--help` says the default is when the value itself would mislead (one per core).
    public let defaultDescription: String?
    let get: (Root) -> SettingValue?
    let set: (inout Root, SettingValue) -> Void

    public init(
        _ key: String,
        kind: SettingKind,
        help: String,
        isSecret: Bool = false,
        environmentAliases: [String] = [],
        defaultDescription: String? = nil,
        get: @escaping (Root) -> SettingValue?,
        set: @escaping (inout Root, SettingValue) -> Void
    ) {
        self.key = key
        self.kind = kind
        self.help = help
        self.isSecret = isSecret
        self.environmentAliases = environmentAliases
        self.defaultDescription = defaultDescription
        self.get = get
        self.set = set
    }

    /// The key's components, as swift-configuration's providers take them.
    public var components: [String] { key.split(separator: ".").map(String.init) }

    /// `--throttle-login-per-account-free-failures`: the components in dash-case, joined by dashes.
    public var flag: String {
        "--" + components.map { Self.splitCamelCase($0, separator: "-").lowercased() }.joined(separator: "-")
    }

    /// `PREFIX_THROTTLE_LOGIN_PER_ACCOUNT_FREE_FAILURES`.
    public func environmentVariable(prefix: String) -> String {
        ([prefix] + components.map { Self.splitCamelCase($0, separator: "_").uppercased() }).joined(separator: "_")
    }

    private static func splitCamelCase(_ word: String, separator: Character) -> String {
        var result = ""
        var previous: Character?
        for character in word {
            if let previous, previous.isLowercase, character.isUppercase { result.append(separator) }
            result.append(character)
            previous = character
        }
        return result
    }
}

/// What values a key allows; also what `--help` and the error messages say about it.
public enum SettingKind: Sendable, Equatable {
    /// A whole number in the range.
    case integer(ClosedRange<Int>)
    /// A duration with a unit ("250ms", "30s", "15m", "1h", "7d", or "1h30m"), in the range.
    case duration(ClosedRange<Duration>)
    /// Any text (a path, a host, an address); `allowEmpty` false refuses "".
    case text(allowEmpty: Bool)
    /// One of these words.
    case choice([String])
    /// true or false; as a flag, given alone it means true.
    case boolean

    /// "an integer from 1 to 100", as the error messages end.
    public var allowed: String {
        switch self {
        case .integer(let range):
            if range.upperBound == .max { return "an integer of at least \(range.lowerBound)" }
            return "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .duration(let range):
            let bounds = range.upperBound >= DurationText.unbounded
                ? "of at least \(DurationText.format(range.lowerBound))"
                : "from \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))"
            return "a duration \(bounds), a number with a unit ms, s, m, h or d (\"30s\", \"15m\", \"7d\")"
        case .text(let allowEmpty):
            return allowEmpty ? "any text" : "a non-empty text"
        case .choice(let words):
            return "one of " + words.joined(separator: ", ")
        case .boolean:
            return "true or false"
        }
    }

    /// The placeholder after the flag in `--help`.
    var valueName: String {
        switch self {
        case .integer: "<integer>"
        case .duration: "<duration>"
        case .text: "<text>"
        case .choice(let words): "<" + words.joined(separator: "|") + ">"
        case .boolean: "[true|false]"
        }
    }

    /// Parses the text of a flag or an environment variable.
    func parse(_ text: String) -> Result<SettingValue, SettingProblem> {
        switch self {
        case .integer:
            guard let value = Int(text.trimmingSpaces) else { return .failure(.init("\"\(text)\" is not an integer")) }
            return check(.integer(value))
        case .duration:
            guard let value = DurationText.parse(text) else {
                return .failure(.init("\"\(text)\" is not a duration with a unit"))
            }
            return check(.duration(value))
        case .text:
            return check(.text(text))
        case .choice:
            return check(.text(text.trimmingSpaces))
        case .boolean:
            switch text.trimmingSpaces.lowercased() {
            case "true", "1", "yes", "on": return .success(.boolean(true))
            case "false", "0", "no", "off": return .success(.boolean(false))
            default: return .failure(.init("\"\(text)\" is not true or false"))
            }
        }
    }

    /// Checks a value of the right type against the kind's bounds.
    func check(_ value: SettingValue) -> Result<SettingValue, SettingProblem> {
        switch (self, value) {
        case (.integer(let range), .integer(let number)):
            return range.contains(number) ? .success(value) : .failure(.init("\(number) is out of range"))
        case (.duration(let range), .duration(let duration)):
            return range.contains(duration)
                ? .success(value) : .failure(.init("\(DurationText.format(duration)) is out of range"))
        case (.text(let allowEmpty), .text(let text)):
            return allowEmpty || !text.isEmpty ? .success(value) : .failure(.init("it is empty"))
        case (.choice(let words), .text(let word)):
            return words.contains(word) ? .success(value) : .failure(.init("\"\(word)\" is not allowed"))
        case (.boolean, .boolean):
            return .success(value)
        default:
            return .failure(.init("\(value.text) has the wrong type"))
        }
    }
}

/// A key's value, in the few shapes keys have.
public enum SettingValue: Sendable, Equatable {
    case integer(Int)
    case duration(Duration)
    case text(String)
    case boolean(Bool)

    /// As a person writes it: `30s`, `7400`, `true`.
    public var text: String {
        switch self {
        case .integer(let number): "\(number)"
        case .duration(let duration): DurationText.format(duration)
        case .text(let text): text
        case .boolean(let flag): "\(flag)"
        }
    }

    /// As a JSON value: numbers and booleans bare, durations and texts quoted.
    var json: String {
        switch self {
        case .integer(let number): "\(number)"
        case .boolean(let flag): "\(flag)"
        case .duration, .text: JSONText.quoted(text)
        }
    }

    public var integer: Int? { if case .integer(let value) = self { value } else { nil } }
    public var duration: Duration? { if case .duration(let value) = self { value } else { nil } }
    public var string: String? { if case .text(let value) = self { value } else { nil } }
    public var boolean: Bool? { if case .boolean(let value) = self { value } else { nil } }
}

/// Why a value is refused, without where it came from (the resolver adds that).
public struct SettingProblem: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

extension Setting {
    /// An integer at `path`, within `range`.
    public static func integer(
        _ key: String, _ path: WritableKeyPath<Root, Int>, _ range: ClosedRange<Int>, help: String,
        environmentAliases: [String] = [], defaultDescription: String? = nil
    ) -> Self {
        Self(key, kind: .integer(range), help: help, environmentAliases: environmentAliases,
             defaultDescription: defaultDescription,
             get: { .integer($0[keyPath: path]) }, set: { if let value = $1.integer { $0[keyPath: path] = value } })
    }

    /// A duration at `path`, within `range`.
    public static func duration(
        _ key: String, _ path: WritableKeyPath<Root, Duration>, _ range: ClosedRange<Duration>, help: String
    ) -> Self {
        Self(key, kind: .duration(range), help: help,
             get: { .duration($0[keyPath: path]) }, set: { if let value = $1.duration { $0[keyPath: path] = value } })
    }

    /// A text at `path`.
    public static func text(
        _ key: String, _ path: WritableKeyPath<Root, String>, allowEmpty: Bool = false, help: String,
        isSecret: Bool = false, environmentAliases: [String] = []
    ) -> Self {
        Self(key, kind: .text(allowEmpty: allowEmpty), help: help, isSecret: isSecret,
             environmentAliases: environmentAliases,
             get: { .text($0[keyPath: path]) }, set: { if let value = $1.string { $0[keyPath: path] = value } })
    }

    /// A text at `path` that may be unset (nil): a file not given.
    public static func optionalText(
        _ key: String, _ path: WritableKeyPath<Root, String?>, help: String, isSecret: Bool = false,
        environmentAliases: [String] = [], defaultDescription: String? = nil
    ) -> Self {
        Self(key, kind: .text(allowEmpty: false), help: help, isSecret: isSecret,
             environmentAliases: environmentAliases, defaultDescription: defaultDescription,
             get: { $0[keyPath: path].map(SettingValue.text) }, set: { if let value = $1.string { $0[keyPath: path] = value } })
    }

    /// A boolean at `path`.
    public static func boolean(
        _ key: String, _ path: WritableKeyPath<Root, Bool>, help: String, environmentAliases: [String] = []
    ) -> Self {
        Self(key, kind: .boolean, help: help, environmentAliases: environmentAliases,
             get: { .boolean($0[keyPath: path]) }, set: { if let value = $1.boolean { $0[keyPath: path] = value } })
    }

    /// One of a string enumeration's cases at `path`.
    public static func choice<Value: RawRepresentable & CaseIterable>(
        _ key: String, _ path: WritableKeyPath<Root, Value>, help: String, environmentAliases: [String] = []
    ) -> Self where Value.RawValue == String {
        Self(key, kind: .choice(Value.allCases.map(\.rawValue)), help: help, environmentAliases: environmentAliases,
             get: { .text($0[keyPath: path].rawValue) },
             set: { if let word = $1.string, let value = Value(rawValue: word) { $0[keyPath: path] = value } })
    }
}

/// Durations as configuration writes them: a number and a unit, or several ("1h30m").
public enum DurationText {
    static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]
    /// No key's range goes this far: a range ending here has no upper bound.
    public static let unbounded = Duration.seconds(100 * 365 * 86_400)

    /// "30s" → 30 seconds; nil for a bare number, an unknown unit, or more than 100 years.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingSpaces)
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 12, let number = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.suffix == String(letters) }) else { return nil }
            rest = rest.dropFirst(letters.count)
            let (product, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            total += product
            guard total <= unbounded.wholeMilliseconds else { return nil }
        }
        return .milliseconds(total)
    }

    /// The largest unit that states it exactly: 604 800 s → "7d", 1 500 ms → "1500ms".
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        if milliseconds == 0 { return "0s" }
        for unit in units.reversed() where milliseconds % unit.milliseconds == 0 && milliseconds != 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension String {
    var trimmingSpaces: String {
        var view = self[...]
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}

enum JSONText {
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
