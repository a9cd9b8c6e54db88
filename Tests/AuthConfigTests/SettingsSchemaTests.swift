import AuthConfig
import Foundation
import Testing

/// A small program's settings: the schema machinery without authd's keys.
private struct Example {
    enum Mode: String, CaseIterable { case fast, safe }
    struct Limits { var perAccount = 5 }
    var port = 7400
    var idleTimeout = Duration.seconds(60)
    var name = "example"
    var verbose = false
    var mode = Mode.safe
    var limits = Limits()
    var address: String?

    static var schema: SettingsSchema<Example> {
        SettingsSchema(program: "example", environmentPrefix: "EXAMPLE", defaults: Example(), sections: [
            .init("All", [
                .integer("port", \.port, 0...65535, help: "The port."),
                .duration("idleTimeout", \.idleTimeout, .seconds(1)...(.seconds(3600)), help: "Idle."),
                .text("name", \.name, help: "A name."),
                .boolean("verbose", \.verbose, help: "Say more."),
                .choice("mode", \.mode, help: "How."),
                .integer("throttle.loginPerAccount.freeFailures", \.limits.perAccount, 1...100, help: "Free failures."),
                .optionalText("address", \.address, help: "Where.", environmentAliases: ["OLD_ADDRESS"]),
            ]),
        ], checks: [
            { $0.mode == .fast && $0.verbose ? CrossKeyProblem(keys: ["mode", "verbose"], "fast mode is quiet") : nil },
        ])
    }
}

private func load(_ arguments: [String] = [], environment: [String: String] = [:], file: String? = nil) async throws -> ResolvedSettings<Example> {
    var environment = environment
    var directory: URL?
    if let file {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("authconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("example.json").path
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        environment["EXAMPLE_CONFIG"] = path
        directory = folder
    }
    defer { if let directory { try? FileManager.default.removeItem(at: directory) } }
    let loaded = try await Example.schema.load(arguments: arguments, environment: environment)
    return try #require(loaded.resolved)
}

private func refusal(_ arguments: [String] = [], environment: [String: String] = [:], file: String? = nil) async -> String {
    do {
        _ = try await load(arguments, environment: environment, file: file)
        return "accepted"
    } catch {
        return "\(error)"
    }
}

@Suite("settings: flags over environment over file over defaults")
struct SettingsSchemaTests {
    @Test("names follow swift-configuration's encoding: dash-case flags, upper-case variables")
    func names() {
        let setting = Example.schema.settings.first { $0.key == "throttle.loginPerAccount.freeFailures" }!
        #expect(setting.flag == "--throttle-login-per-account-free-failures")
        #expect(setting.environmentVariable(prefix: "EXAMPLE") == "EXAMPLE_THROTTLE_LOGIN_PER_ACCOUNT_FREE_FAILURES")
    }

    @Test("each source wins over the ones below it, key by key")
    func precedence() async throws {
        let file = #"{"port": 1, "name": "from-file", "throttle": {"loginPerAccount": {"freeFailures": 9}}, "idleTimeout": "2m"}"#
        let environment = ["EXAMPLE_PORT": "2", "EXAMPLE_NAME": "from-env"]
        let resolved = try await load(["--port", "3"], environment: environment, file: file)
        #expect(resolved.root.port == 3)
        #expect(resolved.origins["port"] == .flag("--port"))
        #expect(resolved.root.name == "from-env")
        #expect(resolved.origins["name"] == .environment("EXAMPLE_NAME"))
        #expect(resolved.root.limits.perAccount == 9)
        #expect(resolved.root.idleTimeout == .seconds(120))
        #expect(resolved.root.verbose == false)
        #expect(resolved.origins["verbose"] == nil)
    }

    @Test("flag forms: --key value, --key=value, a boolean alone, and a value with a comma")
    func flagForms() async throws {
        let resolved = try await load(["--port=8", "--verbose", "--name", "Doe, Jane <j@example.com>", "--mode", "safe"], environment: [:])
        #expect(resolved.root.port == 8)
        #expect(resolved.root.verbose)
        #expect(resolved.root.name == "Doe, Jane <j@example.com>")
        #expect(await refusal(["--mode", "fast", "--verbose"]).contains("mode (the flag --mode) and verbose (the flag --verbose): fast mode is quiet"))
    }

    @Test("an older environment name is read after the new one")
    func aliases() async throws {
        #expect(try await load(environment: ["OLD_ADDRESS": "a:1"]).root.address == "a:1")
        #expect(try await load(environment: ["OLD_ADDRESS": "a:1", "EXAMPLE_ADDRESS": "b:2"]).root.address == "b:2")
    }

    @Test("a bad value names the key, the source and what is allowed")
    func refusals() async {
        #expect(await refusal(["--port", "70000"])
            == "port from the flag --port: 70000 is out of range; allowed: an integer from 0 to 65535")
        #expect(await refusal(environment: ["EXAMPLE_IDLE_TIMEOUT": "60"])
            == #"idleTimeout from the environment variable EXAMPLE_IDLE_TIMEOUT: "60" is not a duration with a unit; allowed: a duration from 1s to 1h, a number with a unit ms, s, m, h or d ("30s", "15m", "7d")"#)
        let fromFile = await refusal(file: #"{"throttle": {"loginPerAccount": {"freeFailures": 0}}}"#)
        #expect(fromFile.hasPrefix("throttle.loginPerAccount.freeFailures from the configuration file "))
        #expect(fromFile.hasSuffix(#"(key "throttle.loginPerAccount.freeFailures"): 0 is out of range; allowed: an integer from 1 to 100"#))
        #expect(await refusal(file: #"{"port": "7400"}"#).hasSuffix(#"(key "port"): it must be a JSON number; allowed: an integer from 0 to 65535"#))
        #expect(await refusal(["--mode", "slow"]).contains(#""slow" is not allowed; allowed: one of fast, safe"#))
    }

    @Test("unknown flags and file keys are refused, not ignored")
    func unknownNames() async {
        #expect(await refusal(["--prot", "1"]) == "unknown option --prot; `example --help` lists every option")
        #expect(await refusal(["--port"]) == "--port needs a value; `example --help` lists every option")
        #expect(await refusal(["--port", "1", "--port", "2"]) == "--port is given twice; `example --help` lists every option")
        #expect(await refusal(["serve"]) == "unexpected argument \"serve\"; `example --help` lists every option")
        #expect(await refusal(file: #"{"prot": 1}"#).hasSuffix(#"has an unknown key "prot"; `example --help` lists every key"#))
        #expect(await refusal(file: #"{"throttle": {"login": {"freeFailures": 1}}}"#).contains(#"unknown section "throttle.login""#))
    }

    @Test("durations: a number and a unit, or several; printed in the largest exact unit")
    func durations() {
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("7d") == .seconds(7 * 86_400))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("60") == nil)
        #expect(DurationText.parse("5 parsecs") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(DurationText.format(.seconds(604_800)) == "7d")
        #expect(DurationText.format(.seconds(900)) == "15m")
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationText.format(.zero) == "0s")
    }

    @Test("--help lists every key with its flag, variable and default; --print-config every value with its source")
    func rendering() async throws {
        let help = Example.schema.help(abstract: "example", usage: ["example"], discussion: "")
        for setting in Example.schema.settings {
            #expect(help.contains(setting.flag))
            #expect(help.contains("env \(setting.environmentVariable(prefix: "EXAMPLE")) · key \(setting.key)"))
        }
        #expect(help.contains("default 1m"))
        let printed = try await load(["--port", "3"]).printedJSON()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any])
        let settings = try #require(json["settings"] as? [String: [String: Any]])
        #expect(settings["port"]?["value"] as? Int == 3)
        #expect(settings["port"]?["source"] as? String == "flag")
        #expect(settings["idleTimeout"]?["value"] as? String == "1m")
        #expect(settings["idleTimeout"]?["source"] as? String == "default")
    }
}
