import ArgumentParser

/// The options every command takes (`GlobalOptions`) may come before the command too, as
/// with git, kubectl and docker: `authctl --key-file F users list`. ArgumentParser accepts a
/// command's options only after the command's name, so before parsing these options (with
/// their values, `--key-file F` or `--key-file=F`) are moved from in front of the command
/// path to just after it. Everything from the command's own arguments on, and a `--`
/// terminator, stay where they are; so do help requests (`--help` is handled by the parser
/// at every level) and arguments naming no command, which the parser then reports.
enum GlobalOptionPlacement {
    /// `GlobalOptions`' options that take a value.
    static let optionsWithValue: Set<String> = [
        "--address", "--key", "--key-file", "--timeout", "--tls-ca", "--tls-cert", "--tls-key", "--tls-server-name",
    ]
    /// `GlobalOptions`' flags.
    static let flags: Set<String> = ["--json"]

    /// `arguments` (without the program name) with the common options that precede the
    /// command path placed right after it, in their order; unchanged when there are none.
    static func reordered(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        var path: [String] = []
        var moved: [String] = []
        var command = root
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument == "--" { break }
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if optionsWithValue.contains(name) {
                let hasInlineValue = argument.contains("=")
                let end = hasInlineValue ? index + 1 : min(index + 2, arguments.endIndex)
                moved += arguments[index..<end]
                index = end
                continue
            }
            if flags.contains(argument) {
                moved.append(argument)
                index += 1
                continue
            }
            guard let subcommand = command.configuration.subcommands.first(where: { names(of: $0).contains(argument) }) else {
                break
            }
            path.append(argument)
            command = subcommand
            index += 1
            // A command without subcommands takes the rest: its own options and arguments.
            if subcommand.configuration.subcommands.isEmpty { break }
        }
        guard !moved.isEmpty else { return arguments }
        return path + moved + arguments[index...]
    }

    /// Every command names itself in its configuration, so that this walk finds it.
    private static func names(of command: any ParsableCommand.Type) -> [String] {
        let configuration = command.configuration
        return (configuration.commandName.map { [$0] } ?? []) + configuration.aliases
    }
}
