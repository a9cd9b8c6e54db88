import AuthTime
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON value, written by hand so that output needs no Foundation and keys keep
/// the order they are given in.
indirect enum JSON {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    /// The value as a JSON document, indented by two spaces.
    var rendered: String {
        var out = ""
        write(to: &out, indent: 0)
        return out
    }

    private func write(to out: inout String, indent: Int) {
        switch self {
        case .string(let value):
            JSON.writeString(value, to: &out)
        case .int(let value):
            out += String(value)
        case .uint(let value):
            out += String(value)
        case .bool(let value):
            out += value ? "true" : "false"
        case .null:
            out += "null"
        case .array(let values):
            guard !values.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (index, value) in values.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                value.write(to: &out, indent: indent + 2)
                out += index == values.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (index, (key, value)) in members.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                JSON.writeString(key, to: &out)
                out += ": "
                value.write(to: &out, indent: indent + 2)
                out += index == members.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    /// RFC 8259 string escaping: quote, backslash and every control character.
    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    static func strings(_ values: [String]) -> JSON {
        .array(values.map { .string($0) })
    }

    /// A string map with its keys sorted, so output is stable.
    static func map(_ values: [String: String]) -> JSON {
        .object(values.keys.sorted().map { ($0, .string(values[$0]!)) })
    }
}

/// Aligned columns for people: a header row, two spaces between columns, the last
/// column not padded.
func table(_ headers: [String], _ rows: [[String]]) -> String {
    var widths = headers.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    func line(_ cells: [String]) -> String {
        var text = ""
        for (index, cell) in cells.enumerated() {
            if index == cells.count - 1 {
                text += cell
            } else {
                text += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
        }
        return text
    }
    return ([line(headers)] + rows.map(line)).joined(separator: "\n")
}

/// `key: value` lines with the values aligned.
func fields(_ pairs: [(String, String)]) -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { key, value in
        key + ":" + String(repeating: " ", count: width - key.count + 1) + value
    }.joined(separator: "\n")
}

/// The end of a listing's text when more pages follow: the command line that fetches the
/// next page, made of the user's own arguments (filters, page size, key option, address,
/// in the order given) with the page token replaced, so that it can be pasted as it is.
func moreHint(nextPageToken: String) -> String {
    guard !nextPageToken.isEmpty else { return "" }
    return "\n\nMore: \(nextPageCommand(CommandLine.arguments, pageToken: nextPageToken))\n(--all lists every page)"
}

/// `arguments` (the program first) without `--page-token` and `--all`, then
/// `--page-token TOKEN` (before a `--` terminator), each word quoted for a POSIX shell.
func nextPageCommand(_ arguments: [String], pageToken: String) -> String {
    var words: [String] = []
    var index = arguments.startIndex
    while index < arguments.endIndex, arguments[index] != "--" {
        let argument = arguments[index]
        index += 1
        if argument == "--page-token" {
            index = min(index + 1, arguments.endIndex)
        } else if argument.hasPrefix("--page-token=") || argument == "--all" {
            continue
        } else {
            words.append(argument)
        }
    }
    words += ["--page-token", pageToken] + arguments[index...]
    return words.map(shellQuoted).joined(separator: " ")
}

/// `word` as one word for a POSIX shell: as it is when that is safe, else in single quotes.
func shellQuoted(_ word: String) -> String {
    let safe = !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
        scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "@%+=:,./_-".unicodeScalars.contains(scalar)
    }
    guard !safe else { return word }
    var quoted = "'"
    for character in word {
        quoted += character == "'" ? "'\\''" : String(character)
    }
    return quoted + "'"
}

/// Writes to standard error (unbuffered), leaving stdout to the command's result.
func printError(_ text: String) {
    let line = text + "\n"
    var bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { buffer in
            write(2, buffer.baseAddress! + offset, buffer.count - offset)
        }
        if written <= 0 { break }
        offset += written
    }
    bytes.removeAll()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SSZ` (UTC); "-" for 0.
func formatTime(_ milliseconds: Int64) -> String {
    guard milliseconds > 0 else { return "-" }
    return UTCDateTime(millisecondsSinceEpoch: milliseconds).formatted(separator: " ", milliseconds: false)
}

func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }

func list(_ values: [String]) -> String { values.isEmpty ? "-" : values.joined(separator: ", ") }
