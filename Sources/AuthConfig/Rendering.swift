extension Setting {
    /// The default as `--help` and the reference state it.
    func defaultText(_ defaults: Root) -> String {
        if let defaultDescription { return defaultDescription }
        guard let value = get(defaults) else { return "unset" }
        if case .text(let text) = value, text.isEmpty { return "\"\"" }
        return value.text
    }
}

extension SettingsSchema {
    /// `--help`: every option with its environment variable, its default and what it allows.
    /// `usage` and `discussion` are the program's own lines, above the options.
    public func help(abstract: String, usage: [String], discussion: String) -> String {
        var lines = [abstract, "", "USAGE:"]
        lines += usage.map { "  " + $0 }
        lines += ["", discussion, ""]
        lines += [
            "Every key below is a flag, an environment variable and a key of the JSON configuration",
            "file (--config PATH or \(configFileVariable)); a flag wins over the environment, which wins over",
            "the file, which wins over the default. Durations take a unit: 250ms, 30s, 15m, 1h, 7d.",
            "",
            "OPTIONS:",
        ]
        func entry(_ left: String, _ right: [String]) {
            let width = 34
            var first = "  " + left
            if first.count < width {
                first += String(repeating: " ", count: width - first.count) + right[0]
                lines.append(first)
            } else {
                lines.append(first)
                lines.append(String(repeating: " ", count: width) + right[0])
            }
            for more in right.dropFirst() {
                lines.append(String(repeating: " ", count: width) + more)
            }
        }
        entry("--config <path>", ["The JSON configuration file (env \(configFileVariable))."])
        entry("--print-config", ["Print the configuration read, each value with its source, as JSON; exit."])
        entry("--version", ["Show the version and the git commit of this build."])
        entry("-h, --help", ["Show this help."])
        for section in sections {
            lines += ["", section.title.uppercased() + ":"]
            for setting in section.settings {
                entry("\(setting.flag) \(setting.kind.valueName)", [
                    setting.help,
                    "env \(setting.environmentVariable(prefix: environmentPrefix)) · key \(setting.key) · default \(setting.defaultText(defaults))",
                    "allowed: \(setting.kind.allowed)",
                ] + (setting.environmentAliases.isEmpty ? [] : ["also read: " + setting.environmentAliases.joined(separator: ", ")]))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The Markdown tables of every key, one per section: docs/configuration.md holds this
    /// output, and a test keeps the two equal.
    public func reference() -> String {
        var lines: [String] = []
        for section in sections {
            lines += ["### \(section.title)", "", "| key | flag, environment variable | default | allowed | what |", "| --- | --- | --- | --- | --- |"]
            for setting in section.settings {
                var names = "`\(setting.flag)`<br>`\(setting.environmentVariable(prefix: environmentPrefix))`"
                for alias in setting.environmentAliases { names += "<br>`\(alias)` (older name)" }
                let cells = [
                    "`\(setting.key)`", names, "`\(setting.defaultText(defaults))`", setting.kind.allowed, setting.help,
                ].map { $0.replacingPipes }
                lines.append("| " + cells.joined(separator: " | ") + " |")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}

extension ResolvedSettings {
    /// `--print-config`: every key's value and where it came from, secrets redacted, as one
    /// JSON object (`{"configFile": …, "settings": {"port": {"value": 7400, "source": "flag",
    /// "name": "--port"}, …}}`).
    public func printedJSON() -> String {
        var entries: [String] = []
        for setting in schema.settings {
            let origin = origins[setting.key]
            let value = setting.get(root)
            let valueJSON: String
            if setting.isSecret, value != nil {
                valueJSON = JSONText.quoted("<redacted>")
            } else {
                valueJSON = value?.json ?? "null"
            }
            let source: (String, String?) = switch origin {
            case nil: ("default", nil)
            case .file(let path, _)?: ("file", path)
            case .environment(let name)?: ("environment", name)
            case .flag(let flag)?: ("flag", flag)
            }
            var members = ["\"value\": \(valueJSON)", "\"source\": \(JSONText.quoted(source.0))"]
            if let name = source.1 { members.append("\"name\": \(JSONText.quoted(name))") }
            entries.append("    \(JSONText.quoted(setting.key)): {\(members.joined(separator: ", "))}")
        }
        let file = configFile.map(JSONText.quoted) ?? "null"
        return "{\n  \"configFile\": \(file),\n  \"settings\": {\n" + entries.joined(separator: ",\n") + "\n  }\n}\n"
    }

    /// The origin of `key` for a log line or message: "the flag --port", "the default".
    public func origin(of key: String) -> String {
        origins[key]?.description ?? "the default"
    }
}

extension String {
    fileprivate var replacingPipes: String {
        var out = ""
        for character in self { out += character == "|" ? "\\|" : String(character) }
        return out
    }
}
