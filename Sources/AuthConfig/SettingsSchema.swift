internal import Configuration
internal import Foundation
internal import SystemPackage

/// Every key of a program, in sections, and the rules between keys. `load` reads them from
/// the command line, the environment and a JSON file through swift-configuration's
/// providers, flag over environment over file over the default in `Root`.
public struct SettingsSchema<Root> {
    public struct Section {
        public let title: String
        public let settings: [Setting<Root>]
        public init(_ title: String, _ settings: [Setting<Root>]) {
            self.title = title
            self.settings = settings
        }
    }

    /// A rule between keys (a buffer at least a frame); a problem names the keys at fault.
    public typealias Check = (Root) -> CrossKeyProblem?

    public let program: String
    /// `AUTHD`: every key's environment variable starts with it and an underscore.
    public let environmentPrefix: String
    /// The environment variable naming the configuration file when `--config` does not.
    public var configFileVariable: String { environmentPrefix + "_CONFIG" }
    public let sections: [Section]
    public let checks: [Check]
    /// The configuration with every default; `load` changes what the sources set.
    public let defaults: Root

    public init(program: String, environmentPrefix: String, defaults: Root, sections: [Section], checks: [Check] = []) {
        self.program = program
        self.environmentPrefix = environmentPrefix
        self.defaults = defaults
        self.sections = sections
        self.checks = checks
    }

    public var settings: [Setting<Root>] { sections.flatMap(\.settings) }

    /// The outcome of `load`: what to do, and the configuration when it was read.
    public struct Loaded {
        public let request: SettingsRequest
        public let resolved: ResolvedSettings<Root>?
    }

    /// `load(arguments:environment:)` with the process's environment.
    public func load(arguments: [String]) async throws(ConfigurationError) -> Loaded {
        try await load(arguments: arguments, environment: ProcessInfo.processInfo.environment)
    }

    /// Reads `arguments` (without the program name), `environment` and the file they name.
    /// `--help`, `--version` and `--config-reference` return before any value is read.
    public func load(arguments: [String], environment: [String: String]) async throws(ConfigurationError) -> Loaded {
        let scan = try CommandLineScan(arguments: arguments, schema: self)
        if scan.request != .run && scan.request != .printConfig {
            return Loaded(request: scan.request, resolved: nil)
        }
        let configFile = scan.configFile ?? environment[configFileVariable].flatMap { $0.isEmpty ? nil : $0 }
        let resolved = try await resolve(arguments: arguments, environment: environment, configFile: configFile)
        return Loaded(request: scan.request, resolved: resolved)
    }

    private func resolve(
        arguments: [String], environment: [String: String], configFile: String?
    ) async throws(ConfigurationError) -> ResolvedSettings<Root> {
        let flags = CommandLineArgumentsProvider(arguments: [program] + arguments)
        let variables = EnvironmentVariablesProvider(environmentVariables: environment)
        var file: FileProvider<JSONSnapshot>?
        if let configFile {
            try checkFileKeys(configFile)
            do {
                file = try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile))
            } catch {
                throw ConfigurationError("cannot read the configuration file \(configFile): \(error)")
            }
        }
        var root = defaults
        var origins: [String: SettingOrigin] = [:]
        for setting in settings {
            guard let (value, origin) = try lookUp(setting, flags: flags, variables: variables, file: file, configFile: configFile) else {
                continue
            }
            setting.set(&root, value)
            origins[setting.key] = origin
        }
        let resolved = ResolvedSettings(root: root, origins: origins, configFile: configFile, schema: self)
        for check in checks {
            if let problem = check(root) {
                let keys = problem.keys.map { key in "\(key) (\(origins[key]?.description ?? "the default"))" }
                throw ConfigurationError("\(keys.joined(separator: " and ")): \(problem.message)")
            }
        }
        return resolved
    }

    /// The first source that sets `setting`, with its value checked against the key's kind.
    private func lookUp(
        _ setting: Setting<Root>, flags: CommandLineArgumentsProvider, variables: EnvironmentVariablesProvider,
        file: FileProvider<JSONSnapshot>?, configFile: String?
    ) throws(ConfigurationError) -> (SettingValue, SettingOrigin)? {
        let key = AbsoluteConfigKey(setting.components)
        func refuse(_ origin: SettingOrigin, _ problem: String) -> ConfigurationError {
            ConfigurationError("\(setting.key) from \(origin): \(problem); allowed: \(setting.kind.allowed)")
        }
        func checked(_ result: Result<SettingValue, SettingProblem>, _ origin: SettingOrigin) throws(ConfigurationError) -> (SettingValue, SettingOrigin) {
            switch result {
            case .success(let value): return (value, origin)
            case .failure(let problem):
                throw refuse(origin, setting.isSecret ? "the value is not allowed" : problem.message)
            }
        }

        let flagOrigin = SettingOrigin.flag(setting.flag)
        if setting.kind == .boolean {
            do {
                if let value = try flags.value(forKey: key, type: .bool).value, case .bool(let flag) = value.content {
                    return (.boolean(flag), flagOrigin)
                }
            } catch {
                throw refuse(flagOrigin, "give it alone, or as \(setting.flag)=true or \(setting.flag)=false")
            }
        } else if let value = try? flags.value(forKey: key, type: .stringArray).value,
                  case .stringArray(let parts) = value.content {
            // The provider splits values at commas; put them back together (a sender's name may hold one).
            return try checked(setting.kind.parse(parts.joined(separator: ",")), flagOrigin)
        }

        for name in [setting.environmentVariable(prefix: environmentPrefix)] + setting.environmentAliases {
            if let value = try? variables.value(forKey: AbsoluteConfigKey([name]), type: .string).value,
               case .string(let text) = value.content, !text.isEmpty {
                return try checked(setting.kind.parse(text), .environment(name))
            }
        }

        guard let file, let configFile else { return nil }
        let fileOrigin = SettingOrigin.file(path: configFile, key: setting.key)
        let type: ConfigType
        let expected: String
        switch setting.kind {
        case .integer: (type, expected) = (.int, "a JSON number")
        case .boolean: (type, expected) = (.bool, "a JSON true or false")
        case .duration: (type, expected) = (.string, "a JSON string such as \"30s\"")
        case .text, .choice: (type, expected) = (.string, "a JSON string")
        }
        let content: ConfigContent?
        do {
            content = try file.value(forKey: key, type: type).value?.content
        } catch {
            throw refuse(fileOrigin, "it must be \(expected)")
        }
        switch content {
        case nil: return nil
        case .int(let number): return try checked(setting.kind.check(.integer(number)), fileOrigin)
        case .bool(let flag): return (.boolean(flag), fileOrigin)
        case .string(let text): return try checked(setting.kind.parse(text), fileOrigin)
        default: throw refuse(fileOrigin, "it must be \(expected)")
        }
    }

    /// A key the file sets that no setting has is a typo the operator wants to hear about:
    /// refused, like an unknown flag.
    private func checkFileKeys(_ path: String) throws(ConfigurationError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read the configuration file \(path): \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigurationError("the configuration file \(path) is not JSON: \(error.localizedDescription)")
        }
        guard let top = object as? [String: Any] else {
            throw ConfigurationError("the configuration file \(path) must hold a JSON object")
        }
        let known = Set(settings.map(\.key))
        let groups = Set(settings.flatMap { setting in
            setting.components.indices.dropLast().map { setting.components[...$0].joined(separator: ".") }
        })
        var pending: [(String, Any)] = top.map { ($0.key, $0.value) }
        while let (key, value) = pending.popLast() {
            if let object = value as? [String: Any] {
                guard groups.contains(key) else {
                    throw ConfigurationError(
                        "the configuration file \(path) has an unknown section \"\(key)\"; `\(program) --help` lists every key")
                }
                pending += object.map { ("\(key).\($0.key)", $0.value) }
            } else if !known.contains(key) {
                throw ConfigurationError(
                    "the configuration file \(path) has an unknown key \"\(key)\"; `\(program) --help` lists every key")
            }
        }
    }
}

/// Where a value came from, as messages and `--print-config` name it.
public enum SettingOrigin: Sendable, Equatable, CustomStringConvertible {
    case file(path: String, key: String)
    case environment(String)
    case flag(String)

    public var description: String {
        switch self {
        case .file(let path, let key): "the configuration file \(path) (key \"\(key)\")"
        case .environment(let name): "the environment variable \(name)"
        case .flag(let flag): "the flag \(flag)"
        }
    }
}

/// A rule between keys that the values broke.
public struct CrossKeyProblem: Sendable {
    public let keys: [String]
    public let message: String
    public init(keys: [String], _ message: String) {
        self.keys = keys
        self.message = message
    }
}

/// A configuration that cannot be used, said so that the operator can fix it: the key, the
/// source and what is allowed. Programs exit 64 (EX_USAGE) with it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The configuration read, and where each value came from (a key absent from `origins`
/// has its default).
public struct ResolvedSettings<Root> {
    public let root: Root
    public let origins: [String: SettingOrigin]
    public let configFile: String?
    let schema: SettingsSchema<Root>
}
