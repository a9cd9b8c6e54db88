import ArgumentParser
import AuthClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct UsersImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import users from a CSV file, in chunks (one transaction each).",
        discussion: """
            The header row names the columns: email (required), password, roles (separated by \
            --roles-separator), blocked, and any other column is an attribute. Every row is \
            reported: created and updated rows are counted; skipped and error rows are printed \
            with their line. When a chunk fails (the connection is lost, say), the chunks before \
            it are committed and authctl says which --start-line resumes the import. \
            Exit status: 0 when no row was an error, 65 when some were.
            """
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The CSV file (\"-\" reads standard input).", valueName: "file"))
    var file: String

    @Flag(name: .customLong("invite"), help: "Email every created user an invitation to choose a password.")
    var invite = false

    @Flag(help: "Generate a password for created users without one; printed once per row.")
    var generatePasswords = false

    @Option(help: ArgumentHelp("What to do with a row whose email exists: skip, update or fail.", valueName: "policy"))
    var onExisting: String = "skip"

    @Flag(help: "Check and report every row; change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("Separates roles in the roles column.", valueName: "text"))
    var rolesSeparator: String = ";"

    @Option(help: ArgumentHelp("Records per chunk (one call, one transaction), 1 to 10000.", valueName: "n"))
    var chunkRows: Int = 1000

    @Option(help: ArgumentHelp("Skip the records before this line of the file (resume a failed import).", valueName: "line"))
    var startLine: Int = 0

    /// A record longer than this stops the import: most likely a quote that never closes.
    static let maximumRecordBytes = 1 << 20
    static let maximumChunkBytes = 2 << 20

    func validate() throws {
        guard ["skip", "update", "fail"].contains(onExisting) else {
            throw ValidationError("--on-existing must be skip, update or fail")
        }
        guard (1...10_000).contains(chunkRows) else { throw ValidationError("--chunk-rows must be 1 to 10000") }
        guard !rolesSeparator.isEmpty else { throw ValidationError("--roles-separator cannot be empty") }
        guard startLine >= 0 else { throw ValidationError("--start-line cannot be negative") }
    }

    func run() async throws {
        let input: UnsafeMutablePointer<FILE>
        if file == "-" {
            guard let standardInput = fdopen(0, "rb") else { throw ExitCode(Exit.software) }
            input = standardInput
        } else {
            guard let opened = fopen(file, "rb") else {
                printError("authctl: cannot open \(file): \(String(cString: strerror(errno)))")
                throw ExitCode(Exit.notFound)
            }
            input = opened
        }
        defer { if file != "-" { fclose(input) } }
        let reader = CSVRecordReader(file: input)
        let totalBytes = reader.size

        guard let headerRecord = reader.next() else {
            printError("authctl: \(file) is empty: the first line must name the columns")
            throw ExitCode(Exit.dataError)
        }
        var headerBytes = headerRecord.bytes[...]
        if headerBytes.starts(with: [0xEF, 0xBB, 0xBF]) { headerBytes = headerBytes.dropFirst(3) }
        while let last = headerBytes.last, last == 10 || last == 13 { headerBytes = headerBytes.dropLast() }
        guard let header = String(validating: headerBytes, as: UTF8.self) else {
            printError("authctl: line 1 (the header) is not valid UTF-8")
            throw ExitCode(Exit.dataError)
        }

        let policy: AuthV1.ExistingUserPolicy = switch onExisting {
        case "update": .existingUserUpdate
        case "fail": .existingUserFail
        default: .existingUserSkip
        }
        let options = AuthV1.ImportOptions(
            sendInvitations: invite, generatePasswords: generatePasswords, onExisting: policy,
            dryRun: dryRun, rolesSeparator: rolesSeparator)
        let progress = Progress(enabled: isatty(2) == 1 && !global.json, total: totalBytes)
        var totals = (created: 0, updated: 0, skipped: 0, errors: 0, records: 0)
        var tooLong: Int?

        // A record read but left for the next chunk, because it would take this one past the budget.
        var carried: CSVRecordReader.Record?
        // Header, rows and envelope stay well inside the server's frame limit (3 MiB by default).
        let rowBudget = max(Self.maximumChunkBytes - header.utf8.count, 1)
        try await global.withAdmin { admin in
            while true {
                var chunk: [UInt8] = []
                var firstLine = 0
                var records = 0
                while records < chunkRows, let record = carried ?? reader.next() {
                    carried = nil
                    if !chunk.isEmpty, chunk.count + record.bytes.count > rowBudget {
                        carried = record
                        break
                    }
                    if record.tooLong {
                        tooLong = record.line
                        break
                    }
                    if record.line < startLine { continue }
                    if firstLine == 0 {
                        if record.blank { continue }
                        firstLine = record.line
                    }
                    chunk.append(contentsOf: record.bytes)
                    if !record.blank { records += 1 }
                }
                if records == 0 { break }
                let response: AuthV1.ImportUsersResponse
                do {
                    response = try await admin.importUsers(
                        AuthV1.ImportUsersRequest(header: header, rows: chunk, firstLine: UInt64(firstLine), options: options))
                } catch {
                    progress.clear()
                    printError("authctl: the chunk starting at line \(firstLine) failed; the lines before it are imported.")
                    printError("authctl: fix the cause and resume with: --start-line \(firstLine)")
                    throw error
                }
                progress.clear()
                for row in response.rows {
                    switch row.outcome {
                    case .error, .skipped:
                        let what = row.outcome == .error ? "error" : "skipped"
                        let email = row.email.isEmpty ? "" : " \(row.email)"
                        print("line \(row.line): \(what)\(email): \(row.reason)")
                    case .created where !row.generatedPassword.isEmpty:
                        print("line \(row.line): created \(row.email), generated password (shown once): \(row.generatedPassword)")
                    default:
                        break
                    }
                }
                totals.created += Int(response.created)
                totals.updated += Int(response.updated)
                totals.skipped += Int(response.skipped)
                totals.errors += Int(response.errors)
                totals.records += response.rows.count
                progress.show(done: reader.consumed, text: "\(totals.records) rows, \(totals.errors) errors")
                if tooLong != nil { break }
            }
        }
        progress.clear()
        if let tooLong {
            printError("""
                authctl: line \(tooLong): the record starting here is longer than 1 MiB (a quote that never closes?); \
                the lines before it are imported. Fix it and resume with: --start-line \(tooLong)
                """)
        }
        let dry = dryRun ? " (dry run: nothing was written)" : ""
        global.emit(
            json: .object([
                ("records", .int(Int64(totals.records))), ("created", .int(Int64(totals.created))),
                ("updated", .int(Int64(totals.updated))), ("skipped", .int(Int64(totals.skipped))),
                ("errors", .int(Int64(totals.errors))), ("dry_run", .bool(dryRun)),
            ]),
            text: """
                \(totals.records) records: \(totals.created) created, \(totals.updated) updated, \
                \(totals.skipped) skipped, \(totals.errors) errors\(dry)
                """)
        if tooLong != nil || totals.errors > 0 { throw ExitCode(Exit.dataError) }
    }
}

struct UsersExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export every user as CSV (no secrets), page by page.",
        discussion: """
            Columns: id, email, one per attribute name, roles (separated by ";"), blocked, \
            created_at, updated_at (ISO 8601, UTC). `authctl users import` reads it back.
            """
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Users per call, 1 to 10000.", valueName: "n"))
    var pageSize: Int = 1000

    func validate() throws {
        guard (1...10_000).contains(pageSize) else { throw ValidationError("--page-size must be 1 to 10000") }
    }

    func run() async throws {
        let out: UnsafeMutablePointer<FILE>
        if let output {
            guard let opened = fopen(output, "wb") else {
                printError("authctl: cannot write \(output): \(String(cString: strerror(errno)))")
                throw ExitCode(Exit.dataError)
            }
            out = opened
        } else {
            guard let standardOutput = fdopen(1, "wb") else { throw ExitCode(Exit.software) }
            out = standardOutput
        }
        var token = ""
        try await global.withAdmin { admin in
            repeat {
                let page = try await admin.exportUsers(AuthV1.ExportUsersRequest(pageSize: UInt32(pageSize), pageToken: token))
                let written = page.csv.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, out) }
                guard written == page.csv.count else { throw writeFailure() }
                token = page.nextPageToken
            } while !token.isEmpty
        }
        if output != nil {
            guard fclose(out) == 0 else { throw writeFailure() }
        } else if fflush(out) != 0 {
            throw writeFailure()
        }
    }

    /// The exit for a failed write. A reader that closed standard output early
    /// (`authctl users export | head`) got what it wanted: that ends quietly with 0.
    private func writeFailure() -> ExitCode {
        if output == nil, errno == EPIPE { return .success }
        printError("authctl: writing \(output ?? "the export") failed: \(String(cString: strerror(errno)))")
        return ExitCode(Exit.software)
    }
}

/// Reads a CSV file one record at a time (a quoted field may span lines), keeping the
/// line each record starts on, without holding more than a record and a buffer.
final class CSVRecordReader {
    struct Record {
        var line: Int
        /// With its line ending.
        var bytes: [UInt8]
        var blank: Bool
        /// Cut at `UsersImport.maximumRecordBytes`.
        var tooLong: Bool
    }

    private let file: UnsafeMutablePointer<FILE>
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private var line = 1
    /// Bytes handed out so far.
    private(set) var consumed = 0
    /// The file's size when it is a regular file.
    let size: Int?

    init(file: UnsafeMutablePointer<FILE>) {
        self.file = file
        var status = stat()
        if fstat(fileno(file), &status) == 0, (status.st_mode & S_IFMT) == S_IFREG {
            size = Int(status.st_size)
        } else {
            size = nil
        }
    }

    private func nextByte() -> UInt8? {
        if start == end {
            end = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            start = 0
            if end == 0 { return nil }
        }
        defer { start += 1 }
        return buffer[start]
    }

    private func peekByte() -> UInt8? {
        guard let byte = nextByte() else { return nil }
        start -= 1
        return byte
    }

    /// The same quoting rules as the server: a quote opens a quoted field only at the
    /// start of a field; inside one, a doubled quote is a quote and line breaks are data.
    func next() -> Record? {
        var bytes: [UInt8] = []
        let first = line
        var quoted = false
        var fieldStart = true
        var blank = true
        while let byte = nextByte() {
            bytes.append(byte)
            switch byte {
            case 10, 13:
                if quoted {
                    if byte == 10 { line += 1 }
                    continue
                }
                if byte == 13, peekByte() == 10 { bytes.append(nextByte()!) }
                line += 1
                consumed += bytes.count
                return Record(line: first, bytes: bytes, blank: blank, tooLong: false)
            case UInt8(ascii: "\""):
                blank = false
                if quoted {
                    quoted = false  // closes, or the first of a doubled quote (reopened below)
                    if peekByte() == UInt8(ascii: "\"") { bytes.append(nextByte()!); quoted = true }
                } else if fieldStart {
                    quoted = true
                }
                fieldStart = false
            case UInt8(ascii: ","):
                blank = false
                if !quoted { fieldStart = true }
            default:
                blank = false
                fieldStart = false
            }
            if bytes.count > UsersImport.maximumRecordBytes {
                return Record(line: first, bytes: [], blank: false, tooLong: true)
            }
        }
        guard !bytes.isEmpty else { return nil }
        consumed += bytes.count
        return Record(line: first, bytes: bytes, blank: blank, tooLong: false)
    }
}

/// A one-line progress bar on standard error, redrawn in place; only on a terminal.
struct Progress {
    let enabled: Bool
    let total: Int?

    func show(done: Int, text: String) {
        guard enabled else { return }
        var line = "\r\u{1B}[K"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += "\(Int(fraction * 100))% "
        }
        line += text
        writeStandardError(line)
    }

    func clear() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[K")
    }

    private func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
