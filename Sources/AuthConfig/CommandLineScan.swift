/// What swift-configuration's command-line provider does not check: that every flag is
/// known (a misspelt `--max-conections` must not be ignored), that each takes one value, and
/// the program's own options (`--config`, `--help`, `--version`, `--print-config`).
struct CommandLineScan {
    var request: SettingsRequest = .run
    var configFile: String?

    init<Root>(arguments: [String], schema: SettingsSchema<Root>) throws(ConfigurationError) {
        let settings = Dictionary(schema.settings.map { ($0.flag, $0) }, uniquingKeysWith: { first, _ in first })
        var index = 0
        var seen: Set<String> = []
        func fail(_ message: String) -> ConfigurationError {
            ConfigurationError("\(message); `\(schema.program) --help` lists every option")
        }
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument.count > 1 else {
                throw fail("unexpected argument \"\(argument)\"")
            }
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let inline = parts.count == 2 ? String(parts[1]) : nil
            // The values that follow, up to the next option.
            var following: [String] = []
            while index < arguments.count, !arguments[index].hasPrefix("--") {
                following.append(arguments[index])
                index += 1
            }
            let values = (inline.map { [$0] } ?? []) + following
            guard seen.insert(name).inserted else { throw fail("\(name) is given twice") }
            switch name {
            case "-h", "--help":
                request = .help
                return
            case "--version":
                request = .version
                return
            case "--config-reference":
                request = .reference
                return
            case "--print-config":
                guard values.isEmpty else { throw fail("--print-config takes no value") }
                request = .printConfig
            case "--config":
                guard values.count == 1, !values[0].isEmpty else { throw fail("--config takes one value, a file") }
                configFile = values[0]
            default:
                guard let setting = settings[name] else { throw fail("unknown option \(name)") }
                if setting.kind == .boolean {
                    guard values.count <= 1 else { throw fail("\(name) takes at most one value, true or false") }
                } else {
                    guard values.count == 1 else {
                        throw fail(values.isEmpty ? "\(name) needs a value" : "\(name) takes one value, got \(values.count)")
                    }
                }
            }
        }
    }
}

/// What the command line asked for, besides settings.
public enum SettingsRequest: Sendable {
    case run
    case help
    case version
    /// Print the resolved configuration, each value with its source, and exit.
    case printConfig
    /// The Markdown reference of every key, for docs/configuration.md.
    case reference
}
