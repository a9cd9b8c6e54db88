import AuthCrypto
import AuthTime
import CSV
import Foundation

// MARK: Domain types

/// What an import does with a row whose email already belongs to a user.
public enum ExistingUserPolicy: Hashable, Sendable {
    /// Report the row as skipped (the default).
    case skip
    /// Set the row's attributes, replace roles when the roles cell is non-empty, set the
    /// password when one is given, set blocked when the blocked cell is non-empty.
    case update
    /// Report the row as an error.
    case fail
}

public struct UserImportOptions: Hashable, Sendable {
    public var sendInvitations: Bool
    public var generatePasswords: Bool
    public var onExisting: ExistingUserPolicy
    public var dryRun: Bool
    /// Separates roles in the roles cell; empty means ";".
    public var rolesSeparator: String

    public init(
        sendInvitations: Bool = false,
        generatePasswords: Bool = false,
        onExisting: ExistingUserPolicy = .skip,
        dryRun: Bool = false,
        rolesSeparator: String = ""
    ) {
        self.sendInvitations = sendInvitations
        self.generatePasswords = generatePasswords
        self.onExisting = onExisting
        self.dryRun = dryRun
        self.rolesSeparator = rolesSeparator
    }
}

/// The report on one record of the file.
public struct UserImportRow: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        case created, updated, skipped, error
    }

    /// The line of the file on which the record starts.
    public var line: Int
    /// Normalised when valid, as written otherwise (may be empty).
    public var email: String
    public var outcome: Outcome
    /// Why, for skipped and error rows.
    public var reason: String
    /// Only for a created row whose password was generated.
    public var generatedPassword: String?

    public init(line: Int, email: String, outcome: Outcome, reason: String = "", generatedPassword: String? = nil) {
        self.line = line
        self.email = email
        self.outcome = outcome
        self.reason = reason
        self.generatedPassword = generatedPassword
    }
}

/// One valid row, ready for the store.
public struct ImportedUser: Sendable {
    /// The id the user gets when created.
    public var id: UserID
    /// Normalised.
    public var email: String
    /// Set on create; on update, set over the user's attributes (others stay).
    public var attributes: [String: String]
    /// Nil: no roles column or an empty cell (a new user gets none, an updated user keeps
    /// its roles). Otherwise existing role names, deduplicated.
    public var roles: [String]?
    public var passwordHash: String?
    /// Nil: no blocked column or an empty cell (new users are not blocked).
    public var blocked: Bool?
    /// The invitation code and email to store with the user when it is created (not when
    /// the row turns out to update or skip an existing user).
    public var invitation: Invitation?

    public init(
        id: UserID = .generate(),
        email: String,
        attributes: [String: String],
        roles: [String]?,
        passwordHash: String?,
        blocked: Bool?,
        invitation: Invitation? = nil
    ) {
        self.id = id
        self.invitation = invitation
        self.email = email
        self.attributes = attributes
        self.roles = roles
        self.passwordHash = passwordHash
        self.blocked = blocked
    }
}

/// What the store did with one `ImportedUser`.
public enum ImportWriteOutcome: Hashable, Sendable {
    case created
    case updated
    case skipped
    /// The email exists and the policy is `.fail`.
    case exists
}

// MARK: Import

extension AdministrationService {
    /// Column names the import understands (case-insensitively); every other column is an
    /// attribute. `id`, `created_at` and `updated_at` come with an export and are ignored.
    static let reservedColumns: Set<String> = ["email", "password", "roles", "id", "blocked", "created_at", "updated_at"]
    /// A header `attribute:NAME` is the attribute NAME even when NAME is a reserved column.
    static let attributePrefix = "attribute:"
    /// Rows per ImportUsers call.
    public static let maximumImportRows = 10_000

    /// Imports one chunk of a CSV file: `rows` are whole records without the header,
    /// starting at line `firstLine` of the file. One write transaction for the chunk;
    /// invalid rows are reported and not written, the others are. A bad header fails
    /// the whole call.
    public func importUsers(
        header: String,
        rows: [UInt8],
        firstLine: Int,
        options: UserImportOptions
    ) async throws(AuthError) -> [UserImportRow] {
        let report = try await importChunk(header: header, rows: rows, firstLine: firstLine, options: options)
        if !options.dryRun { metrics.imported(report) }
        return report
    }

    private func importChunk(
        header: String,
        rows: [UInt8],
        firstLine: Int,
        options: UserImportOptions
    ) async throws(AuthError) -> [UserImportRow] {
        let columns = try ImportColumns(header: header, limits: configuration.attributes)
        if options.sendInvitations && !options.dryRun {
            try await requireInvitationLinks()
        }
        guard firstLine >= 2 else {
            throw .invalidArgument("first_line is the line of the first record: 2 or more (the header is line 1)", field: "first_line")
        }
        let separator = options.rolesSeparator.isEmpty ? ";" : options.rolesSeparator
        let records = CSVRecords.read(rows, firstLine: firstLine)
        guard records.count <= Self.maximumImportRows else {
            throw .invalidArgument("a chunk holds at most \(Self.maximumImportRows) records, this one \(records.count)", field: "rows")
        }

        // 1. Each record on its own: fields, email, password, roles, attributes.
        var report: [UserImportRow] = []
        var candidates: [(report: Int, user: ImportedUser, password: String?)] = []
        var firstLineOfEmail: [String: Int] = [:]
        var roleNames = Set<String>()
        report.reserveCapacity(records.count)
        for record in records {
            switch columns.parse(record.fields, separator: separator, configuration: configuration) {
            case .failure(let failure):
                report.append(UserImportRow(line: record.line, email: failure.email, outcome: .error, reason: failure.reason))
            case .success(let parsed):
                if let first = firstLineOfEmail[parsed.user.email] {
                    report.append(UserImportRow(
                        line: record.line, email: parsed.user.email, outcome: .error,
                        reason: "duplicate email: already on line \(first) of this chunk"))
                    continue
                }
                firstLineOfEmail[parsed.user.email] = record.line
                roleNames.formUnion(parsed.user.roles ?? [])
                candidates.append((report.count, parsed.user, parsed.password))
                report.append(UserImportRow(line: record.line, email: parsed.user.email, outcome: .created))
            }
        }

        // 2. Against the store: roles that do not exist, emails that do.
        let missing = Set(try await storage.missingRoles(roleNames.sorted()))
        let existing = try await storage.existingEmails(candidates.map(\.user.email))
        var planned: [(report: Int, user: ImportedUser, password: String?)] = []
        for candidate in candidates {
            if let role = candidate.user.roles?.first(where: missing.contains) {
                report[candidate.report].outcome = .error
                report[candidate.report].reason = "role '\(role)' does not exist; create it first"
                continue
            }
            if existing.contains(candidate.user.email) {
                switch options.onExisting {
                case .skip:
                    report[candidate.report].outcome = .skipped
                    report[candidate.report].reason = "a user with this email already exists"
                    continue
                case .fail:
                    report[candidate.report].outcome = .error
                    report[candidate.report].reason = "a user with this email already exists"
                    continue
                case .update:
                    report[candidate.report].outcome = .updated
                }
            }
            if options.sendInvitations, report[candidate.report].outcome == .created, candidate.user.blocked == true {
                report[candidate.report].outcome = .error
                report[candidate.report].reason = "a blocked user cannot be invited"
                continue
            }
            planned.append(candidate)
        }
        if options.dryRun || planned.isEmpty { return report }

        // Invitations, for new users only: the code row and the rendered email are stored
        // in the chunk's transaction, with the user.
        let now = clock.now
        if options.sendInvitations {
            for index in planned.indices where report[planned[index].report].outcome == .created {
                let user = planned[index].user
                planned[index].user.invitation = try await makeInvitation(
                    for: user.id, email: user.email, attributes: user.attributes, at: now)
            }
        }

        // 3. Passwords: given ones, and generated ones for new users without one, hashed
        // in parallel on the hasher's threads.
        var secrets: [(index: Int, secret: String)] = []
        for (index, candidate) in planned.enumerated() {
            if let password = candidate.password {
                secrets.append((index, password))
            } else if options.generatePasswords, report[candidate.report].outcome == .created {
                let generated = Self.generatePassword()
                report[candidate.report].generatedPassword = generated
                secrets.append((index, generated))
            }
        }
        if !secrets.isEmpty {
            let hasher = self.hasher
            let hashes = await withTaskGroup(of: (Int, String?).self) { group in
                for (index, secret) in secrets {
                    group.addTask { (index, try? await hasher.hash(secret)) }
                }
                var hashes: [Int: String?] = [:]
                for await (index, hash) in group { hashes[index] = hash }
                return hashes
            }
            for (index, hash) in hashes {
                guard let hash else { throw AuthError(.internal, "password hashing failed") }
                planned[index].user.passwordHash = hash
            }
        }

        // 4. One transaction. Existence is decided again inside it: a user created since
        // step 2 is handled by the policy like any other.
        let outcomes = try await storage.importUsers(planned.map(\.user), onExisting: options.onExisting, at: now)
        for (candidate, outcome) in zip(planned, outcomes) {
            var row = report[candidate.report]
            switch outcome {
            case .created:
                row.outcome = .created
            case .updated:
                // Planned as a creation, the email was created meanwhile and updated by
                // the policy: a generated password was stored, so the report keeps it.
                row.outcome = .updated
            case .skipped:
                row.outcome = .skipped
                row.reason = "a user with this email already exists"
                row.generatedPassword = nil
            case .exists:
                row.outcome = .error
                row.reason = "a user with this email already exists"
                row.generatedPassword = nil
            }
            report[candidate.report] = row
        }
        return report
    }

    // MARK: Export

    /// Users per ExportUsers page: default and maximum.
    public static let defaultExportPageSize = 1000
    public static let maximumExportPageSize = 10_000

    /// One page of the CSV export, by email. The first page starts with the header row;
    /// its attribute columns are every attribute name held by any user when the first
    /// page is made, carried in the page token so that every page has the same columns.
    public func exportUsers(pageSize requested: Int, pageToken: String) async throws(AuthError) -> (csv: [UInt8], nextPageToken: String) {
        guard requested >= 0 else { throw .invalidArgument("page_size cannot be negative", field: "page_size") }
        guard requested <= Self.maximumExportPageSize else {
            throw .invalidArgument("page_size is at most \(Self.maximumExportPageSize)", field: "page_size")
        }
        let size = requested == 0 ? Self.defaultExportPageSize : requested
        var rows: [[String]] = []
        let attributeNames: [String]
        let after: String?
        if pageToken.isEmpty {
            attributeNames = try await storage.attributeNames()
            after = nil
            rows.append(["id", "email"]
                + attributeNames.map { Self.reservedColumns.contains($0.lowercased()) ? Self.attributePrefix + $0 : $0 }
                + ["roles", "blocked", "created_at", "updated_at"])
        } else {
            (after, attributeNames) = try Self.decodeExportToken(pageToken)
        }
        let users = try await storage.listUsers(filter: UserFilter(), afterEmail: after, limit: size + 1)
        let page = users.prefix(size)
        for user in page {
            var fields = [user.id.rawValue, user.email]
            fields.reserveCapacity(attributeNames.count + 6)
            for name in attributeNames { fields.append(user.attributes[name] ?? "") }
            fields.append(user.roles.joined(separator: ";"))
            fields.append(user.blocked ? "true" : "false")
            fields.append(CSVOutput.iso8601(user.createdAt))
            fields.append(CSVOutput.iso8601(user.updatedAt))
            rows.append(fields)
        }
        let csv = try CSVOutput.records(rows.map { $0.map(CSVOutput.formulaEscaped) })
        let next = users.count > size ? Self.encodeExportToken(after: page.last!.email, attributeNames: attributeNames) : ""
        return (csv, next)
    }

    /// "x1", the last email, then the attribute names, separated by newlines (which
    /// neither may contain), in base64url.
    static func encodeExportToken(after email: String, attributeNames: [String]) -> String {
        Base64URL.encode(Array((["x1", email] + attributeNames).joined(separator: "\n").utf8))
    }

    static func decodeExportToken(_ token: String) throws(AuthError) -> (after: String, attributeNames: [String]) {
        guard let bytes = Base64URL.decode(token), let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("page_token is not one this server gave out", field: "page_token")
        }
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0] == "x1" else {
            throw .invalidArgument("page_token is not one this server gave out", field: "page_token")
        }
        return (parts[1], Array(parts.dropFirst(2)))
    }
}

// MARK: Header and rows

/// The header row, understood.
struct ImportColumns {
    enum Column {
        case email, password, roles, blocked, ignored
        case attribute(String)
    }

    var columns: [Column]

    init(header rawHeader: String, limits: Validation.AttributeLimits) throws(AuthError) {
        var header = Substring(rawHeader)
        if header.unicodeScalars.first == "\u{FEFF}" { header = Substring(header.unicodeScalars.dropFirst()) }
        while let last = header.last, last == "\n" || last == "\r" || last == "\r\n" { header = header.dropLast() }
        guard !header.isEmpty else { throw .invalidArgument("the header row is empty; it must name the columns, email first among them", field: "header") }
        let names: [String]
        do {
            let reader = try CSVReader(string: String(header))
            guard let row = reader.next(), reader.next() == nil else {
                throw AuthError.invalidArgument("the header must be one record", field: "header")
            }
            names = row
        } catch let error as AuthError {
            throw error
        } catch {
            throw .invalidArgument("the header row cannot be read as CSV: \(error)", field: "header")
        }
        var seen: [String: Int] = [:]
        var columns: [Column] = []
        for (index, raw) in names.enumerated() {
            let name = CSVOutput.formulaUnescaped(raw).trimmingWhitespace()
            let lower = name.lowercased()
            let column: Column
            let key: String
            if lower.hasPrefix(AdministrationService.attributePrefix) {
                let attribute = String(name.dropFirst(AdministrationService.attributePrefix.count))
                try Validation.checkAttributeName(attribute, limits: limits, field: "header")
                column = .attribute(attribute)
                key = "attribute " + attribute
            } else if AdministrationService.reservedColumns.contains(lower) {
                switch lower {
                case "email": column = .email
                case "password": column = .password
                case "roles": column = .roles
                case "blocked": column = .blocked
                default: column = .ignored
                }
                key = lower
            } else {
                guard !name.isEmpty else {
                    throw .invalidArgument("column \(index + 1) of the header has no name", field: "header")
                }
                try Validation.checkAttributeName(name, limits: limits, field: "header")
                column = .attribute(name)
                key = "attribute " + name
            }
            if let first = seen[key] {
                throw .invalidArgument("the header names column '\(name)' twice (columns \(first + 1) and \(index + 1))", field: "header")
            }
            seen[key] = index
            columns.append(column)
        }
        guard seen["email"] != nil else {
            throw .invalidArgument("the header has no email column (columns: \(names.joined(separator: ", ")))", field: "header")
        }
        self.columns = columns
    }

    struct Parsed {
        var user: ImportedUser
        var password: String?
    }

    struct Failure: Error {
        var email: String
        var reason: String
    }

    func parse(_ read: Result<[String], CSVRecords.Unreadable>, separator: String, configuration: IdentityConfiguration) -> Result<Parsed, Failure> {
        let fields: [String]
        switch read {
        case .success(let values): fields = values
        case .failure(let unreadable): return .failure(Failure(email: "", reason: unreadable.reason))
        }
        var rawEmail = ""
        if let index = columns.firstIndex(where: { if case .email = $0 { true } else { false } }), index < fields.count {
            rawEmail = fields[index]
        }
        guard fields.count == columns.count else {
            return .failure(Failure(email: rawEmail, reason: "the record has \(fields.count) fields, the header \(columns.count)"))
        }
        var user = ImportedUser(email: "", attributes: [:], roles: nil, passwordHash: nil, blocked: nil)
        var password: String?
        for (column, value) in zip(columns, fields.map(CSVOutput.formulaUnescaped)) {
            switch column {
            case .email:
                guard !value.trimmingWhitespace().isEmpty else { return .failure(Failure(email: "", reason: "email is required")) }
                do {
                    user.email = try Validation.normalizedEmail(value)
                } catch {
                    return .failure(Failure(email: rawEmail, reason: error.message))
                }
            case .password:
                if !value.isEmpty { password = value }
            case .roles:
                let roles = value.split(separator: separator).map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
                if !roles.isEmpty {
                    var unique: [String] = []
                    for role in roles where !unique.contains(role) { unique.append(role) }
                    user.roles = unique.sorted()
                }
            case .blocked:
                switch value.trimmingWhitespace().lowercased() {
                case "": break
                case "true", "1", "yes": user.blocked = true
                case "false", "0", "no": user.blocked = false
                default: return .failure(Failure(email: rawEmail, reason: "blocked must be true or false, not '\(value)'"))
                }
            case .attribute(let name):
                if !value.isEmpty { user.attributes[name] = value }
            case .ignored:
                break
            }
        }
        if let password {
            do {
                try Validation.checkPassword(password, policy: configuration.passwords)
            } catch {
                return .failure(Failure(email: user.email, reason: error.message))
            }
        }
        guard user.attributes.count <= configuration.attributes.maximumCount else {
            return .failure(Failure(
                email: user.email,
                reason: "a user has at most \(configuration.attributes.maximumCount) attributes, this row has \(user.attributes.count)"))
        }
        do {
            try Validation.checkAttributes(user.attributes, limits: configuration.attributes, field: "attribute")
        } catch {
            return .failure(Failure(email: user.email, reason: error.message))
        }
        return .success(Parsed(user: user, password: password))
    }
}

/// Reading a chunk of CSV records: a small scanner cuts the bytes into records and a
/// single CSV.swift reader reads the fields of every sound one.
///
/// The scanner is the least CSV.swift cannot do for us (docs/decisions.md, "CSV import and
/// export"): it reports no line numbers, so a row could not be named by the line its record
/// starts on; it reads an unclosed quote to the end of the input and a closing quote
/// followed by text as part of the field, so neither could be refused; and it returns a
/// blank line as a record. The scanner only finds where each record begins and ends (RFC
/// 4180: a quoted field may hold commas, doubled quotes and line breaks), counts lines,
/// and notes those two quoting errors. The fields themselves, quotes undone, are CSV.swift's.
enum CSVRecords {
    /// Why a record cannot be read; its row is reported with `reason`.
    struct Unreadable: Error {
        var reason: String
    }

    struct Record {
        /// The line the record starts on.
        var line: Int
        var fields: Result<[String], Unreadable>
    }

    /// The records of `bytes`, the first on line `firstLine`. Blank lines are no records.
    static func read(_ bytes: [UInt8], firstLine: Int) -> [Record] {
        var records: [Record] = []
        var sound: [(index: Int, text: String)] = []
        for extent in split(bytes, firstLine: firstLine) {
            if let problem = extent.problem {
                records.append(Record(line: extent.line, fields: .failure(Unreadable(reason: problem))))
            } else if let text = String(validating: extent.bytes, as: UTF8.self) {
                sound.append((records.count, text))
                records.append(Record(line: extent.line, fields: .success([])))
            } else {
                records.append(Record(line: extent.line, fields: .failure(Unreadable(reason: "the record is not valid UTF-8"))))
            }
        }
        guard !sound.isEmpty else { return records }
        // Each sound record is one CSV row, so one reader over them, a line break between
        // two, gives their fields in order.
        do {
            let reader = try CSVReader(string: sound.map(\.text).joined(separator: "\n"))
            for (index, _) in sound {
                records[index].fields = .success(reader.next() ?? [""])
            }
        } catch {
            for (index, _) in sound {
                records[index].fields = .failure(Unreadable(reason: "the record cannot be read as CSV: \(error)"))
            }
        }
        return records
    }

    /// Where a record is in the bytes, and the quoting error that makes it unreadable.
    struct Extent {
        var line: Int
        var bytes: ArraySlice<UInt8>
        var problem: String?
    }

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    static func split(_ bytes: [UInt8], firstLine: Int) -> [Extent] {
        var records: [Extent] = []
        var state = State.fieldStart
        var line = firstLine
        var recordLine = firstLine
        var recordStart = 0
        var quoteLine = firstLine
        var problem: String?
        var index = 0
        func finish(at end: Int) {
            if end > recordStart || problem != nil {
                records.append(Extent(line: recordLine, bytes: bytes[recordStart..<end], problem: problem))
            }
            problem = nil
            state = .fieldStart
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                if state == .quoted {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                } else {
                    finish(at: index)
                    if byte == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { index += 1 }
                    line += 1
                    recordLine = line
                    recordStart = index + 1
                }
            case UInt8(ascii: "\""):
                switch state {
                case .fieldStart: state = .quoted; quoteLine = line
                case .quoted: state = .quoteInQuoted
                case .quoteInQuoted: state = .quoted
                case .unquoted: break  // a quote inside an unquoted field is a character
                }
            case UInt8(ascii: ","):
                if state != .quoted { state = .fieldStart }
            default:
                switch state {
                case .fieldStart: state = .unquoted
                case .quoteInQuoted:
                    if problem == nil { problem = "a quoted field must end at a comma or the end of the record (line \(line))" }
                    state = .unquoted
                case .quoted, .unquoted: break
                }
            }
            index += 1
        }
        if state == .quoted {
            problem = "unbalanced quotes: the quoted field opened on line \(quoteLine) never closes"
        }
        finish(at: bytes.count)
        return records
    }
}

/// Writing CSV with CSV.swift's writer: RFC 4180 quoting, "\n" after every record, no BOM.
/// The writer quotes a field with a comma, quote or line break; a field with a leading or
/// trailing space is quoted too, so that a spreadsheet or a trimming reader keeps it.
enum CSVOutput {
    static func records(_ rows: [[String]]) throws(AuthError) -> [UInt8] {
        guard !rows.isEmpty else { return [] }
        let stream = OutputStream(toMemory: ())
        defer { stream.close() }
        do {
            let writer = try CSVWriter(stream: stream, newline: .lf)
            for fields in rows {
                try writer.write(row: fields) { index in fields[index].first == " " || fields[index].last == " " }
            }
        } catch {
            throw AuthError(.internal, "writing CSV failed: \(error)")
        }
        guard let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else {
            throw AuthError(.internal, "writing CSV failed: no output")
        }
        // The writer puts a line break between records; every record ends with one.
        return [UInt8](data) + [UInt8(ascii: "\n")]
    }

    /// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, tab
    /// or CR; OWASP's "CSV injection") gets a leading apostrophe, which spreadsheets show
    /// as text. So that an export still imports exactly, a cell that already starts with
    /// apostrophes before such a character gets one more, and the import takes one off
    /// (`formulaUnescaped`): `=1+1` ⇄ `'=1+1`, `'=1+1` ⇄ `''=1+1`; `'x` stays `'x`.
    static func formulaEscaped(_ cell: String) -> String {
        startsLikeFormula(cell) ? "'" + cell : cell
    }

    /// What the import reads a cell as: `formulaEscaped` undone.
    static func formulaUnescaped(_ cell: String) -> String {
        cell.first == "'" && startsLikeFormula(cell) ? String(cell.dropFirst()) : cell
    }

    /// Apostrophes (any number, none included), then `=`, `+`, `-`, `@`, tab or CR.
    private static func startsLikeFormula(_ cell: String) -> Bool {
        guard let first = cell.unicodeScalars.first(where: { $0 != "'" }) else { return false }
        return ["=", "+", "-", "@", "\t", "\r"].contains(first)
    }

    /// UTC with milliseconds: 2026-11-29T06:20:17.123Z.
    static func iso8601(_ time: Timestamp) -> String {
        UTCDateTime(millisecondsSinceEpoch: time.milliseconds).formatted()
    }
}
