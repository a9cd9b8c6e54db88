import Glibc
import AuthTime
public import Logging

/// How log lines are written: for a person reading a terminal or journal, or one JSON
/// object a line for a log pipeline.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-01T10:00:00.123Z info authd: user=… request-id=… [AuthCore] login ok`
    case text
    /// `{"time":"2026-12-01T10:00:00.123Z","level":"info","label":"authd","message":"login ok","metadata":{…}}`
    case json
}

/// The log handler of authd and auth-mailer, in either `LogFormat`, to standard error.
///
/// Both formats escape control characters in messages and metadata (a name given by a
/// caller cannot start a forged line), and take a metadata provider, through which a call's
/// request id reaches every line written while the call is served. Each line is one
/// `write(2)`, so lines of concurrent calls do not interleave.
public struct AuthLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    public let label: String
    public let format: LogFormat
    private let write: @Sendable (String) -> Void

    /// `write` receives each finished line, newline included; standard error by default.
    public init(
        label: String,
        format: LogFormat,
        level: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void = AuthLogHandler.writeToStandardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// Makes every `Logger` of the process use this handler. Call once, from `main`.
    /// `metadataProvider` adds context to every line (the call being served, say).
    public static func bootstrap(format: LogFormat, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        LoggingSystem.bootstrap(
            { label, provider in AuthLogHandler(label: label, format: format, level: level, metadataProvider: provider) },
            metadataProvider: metadataProvider
        )
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var context = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            context.merge(provided) { _, provided in provided }
        }
        var own = event.metadata ?? [:]
        if let error = event.error {
            own["error"] = "\(error)"
        }
        // A key given with the line wins over the same key from the context.
        for key in own.keys { context[key] = nil }
        let time = UTCDateTime(millisecondsSinceEpoch: Self.nowMilliseconds()).formatted()
        switch format {
        case .text:
            write(textLine(time: time, level: event.level, own: own, context: context, source: event.source, message: event.message.description))
        case .json:
            own.merge(context) { own, _ in own }
            write(jsonLine(time: time, level: event.level, metadata: own, message: event.message.description))
        }
    }

    // MARK: Text

    /// The line's own metadata first, sorted, then the context's (request id, caller),
    /// so that `user=… login ok` reads as it did before request ids.
    private func textLine(
        time: String,
        level: Logger.Level,
        own: Logger.Metadata,
        context: Logger.Metadata,
        source: String,
        message: String
    ) -> String {
        var line = "\(time) \(level.rawValue) \(Self.escapedText(label)):"
        for part in [own, context] {
            for (key, value) in part.sorted(by: { $0.key < $1.key }) {
                line += " \(Self.escapedText(key))=\(Self.escapedText(Self.text(value)))"
            }
        }
        line += " [\(Self.escapedText(source))] \(Self.escapedText(message))\n"
        return line
    }

    private static func text(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(text).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            "[" + dictionary.sorted(by: { $0.key < $1.key }).map { "\($0.key): \(text($0.value))" }.joined(separator: ", ") + "]"
        }
    }

    /// Control characters (and Unicode's line and paragraph separators) as Swift escapes:
    /// one event, one line, whatever a caller put in a name.
    static func escapedText(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where isControl(scalar): escaped += "\\u{\(String(scalar.value, radix: 16))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    // MARK: JSON

    private func jsonLine(time: String, level: Logger.Level, metadata: Logger.Metadata, message: String) -> String {
        var line = "{\"time\":\"\(time)\",\"level\":\"\(level.rawValue)\",\"label\":"
        Self.appendJSON(string: label, to: &line)
        line += ",\"message\":"
        Self.appendJSON(string: message, to: &line)
        line += ",\"metadata\":"
        Self.appendJSON(.dictionary(metadata), to: &line)
        line += "}\n"
        return line
    }

    static func appendJSON(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let string):
            appendJSON(string: string, to: &out)
        case .stringConvertible(let convertible):
            appendJSON(string: convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                appendJSON(element, to: &out)
            }
            out += "]"
        case .dictionary(let dictionary):
            out += "{"
            for (index, (key, element)) in dictionary.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out += "," }
                appendJSON(string: key, to: &out)
                out += ":"
                appendJSON(element, to: &out)
            }
            out += "}"
        }
    }

    /// A JSON string literal (RFC 8259): quote, backslash and control characters escaped.
    static func appendJSON(string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    // MARK: Output

    private static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// One `write(2)` of the whole line (retried for the rest when the kernel takes part).
    public static let writeToStandardError: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
