import AuthLogging
import AuthRPC
import Logging
import Synchronization
import Testing

@Suite("Log lines")
struct LogFormatTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func logger(_ format: LogFormat) -> Logger {
            Logger(label: "authd") { label in
                AuthLogHandler(label: label, format: format, level: .trace, metadataProvider: CallLogMetadata.provider) { line in
                    self.lines.withLock { $0.append(line) }
                }
            }
        }
    }

    @Test("json: one object a line with time, level, label, message and metadata; control characters escaped")
    func json() {
        let lines = Lines()
        lines.logger(.json).info("user \"x\"\nforged", metadata: ["user": "u1"])
        let line = lines.all[0]
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix(#"{"time":""#))
        #expect(line.contains(#","level":"info","label":"authd","message":"user \"x\"\nforged","metadata":{"user":"u1"}}"#))
    }

    @Test("text: a name with a newline cannot start a forged line")
    func text() {
        let lines = Lines()
        lines.logger(.text).info("login ok", metadata: ["account": "a\n2026-01-01 info authd: forged"])
        #expect(lines.all[0].filter { $0 == "\n" }.count == 1)
        #expect(lines.all[0].contains(#"account=a\n2026-01-01"#))
    }

    @Test("a line written while a call is served names its request id and caller, made up lazily")
    func callMetadata() async {
        let lines = Lines()
        let logger = lines.logger(.json)
        var context = CallContext(method: "/auth.v1.Admin/CreateRole", requestID: "req-7", logger: logger)
        context.caller = "key_1"
        CallLogMetadata.$current.withValue(CallLogMetadata(context)) {
            logger.info("role created")
        }
        logger.info("outside")
        #expect(lines.all[0].contains(#""by-key":"key_1","method":"/auth.v1.Admin/CreateRole","request-id":"req-7""#))
        #expect(!lines.all[1].contains("request-id"))
        #expect(RequestID.generated(0xab).description == "00000000000000ab")
    }
}
