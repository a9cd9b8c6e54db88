public import AuthClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One outbox message rendered as RFC 5322 / MIME bytes with CRLF line endings, and the
/// envelope (MAIL FROM / RCPT TO) addresses it goes to. Dot-stuffing is left to the SMTP
/// client; the bodies are quoted-printable, so no line is longer than 76 characters.
public struct EmailMessage: Sendable, Hashable {
    /// The bare address of the sender, for MAIL FROM.
    public var envelopeFrom: String
    /// The bare address of the recipient, for RCPT TO.
    public var envelopeTo: String
    /// The stable Message-ID with its angle brackets: `<hex@authd>`.
    public var messageID: String
    /// The whole message: headers, blank line, body.
    public var bytes: [UInt8]

    /// Headers the row's extra headers may not replace: the worker writes them itself, and
    /// Cc/Bcc would name recipients the envelope does not carry.
    static let reservedHeaders: Set<String> = [
        "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
        "content-type", "content-transfer-encoding", "sender", "return-path",
    ]

    /// Renders `message`; `date` is seconds since 1970 (the moment of sending).
    /// Throws a permanent `DeliveryFailure` for a message no server could accept.
    public init(_ message: AuthV1.OutboxMessage, date: Int64) throws(DeliveryFailure) {
        envelopeFrom = try Self.bareAddress(message.from, field: "from")
        envelopeTo = try Self.bareAddress(message.to, field: "to")
        let trimmedID = message.messageID.trimmingCharacters(in: " \t")
        guard !trimmedID.isEmpty,
              trimmedID.utf8.allSatisfy({ (33...126).contains($0) })
        else {
            throw DeliveryFailure(permanent: true, reason: "message id '\(message.messageID)' is not a valid Message-ID")
        }
        messageID = trimmedID.hasPrefix("<") ? trimmedID : "<\(trimmedID)>"

        var head: [String] = [
            "From: \(Self.addressHeader(message.from))",
            "To: \(Self.addressHeader(message.to))",
            "Subject: \(MIMEEncoding.headerValue(message.subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
        ]
        for name in message.headers.keys.sorted() {
            guard !name.isEmpty, name.utf8.allSatisfy({ (33...126).contains($0) && $0 != UInt8(ascii: ":") }),
                  !Self.reservedHeaders.contains(name.lowercased())
            else { continue }
            head.append("\(name): \(MIMEEncoding.headerValue(message.headers[name] ?? ""))")
        }

        let text = message.textBody
        let html = message.htmlBody
        var body: [String] = []
        func part(_ subtype: String, _ content: String) -> [String] {
            [
                "Content-Type: text/\(subtype); charset=utf-8",
                "Content-Transfer-Encoding: quoted-printable",
                "",
                MIMEEncoding.quotedPrintable(content),
            ]
        }
        if html.isEmpty || text.isEmpty {
            let single = html.isEmpty ? part("plain", text) : part("html", html)
            head.append(contentsOf: single[0..<2])
            body = Array(single[2...])
        } else {
            // "=_" never occurs in quoted-printable text, so the boundary cannot collide.
            let boundary = "=_authd_\(Self.fnv1a(messageID))"
            head.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            body = ["", "This is a multi-part message in MIME format.", "--\(boundary)"]
            body += part("plain", text)
            body.append("--\(boundary)")
            body += part("html", html)
            body.append("--\(boundary)--")
        }
        bytes = Array((head + body).joined(separator: "\r\n").utf8) + [13, 10]
    }

    /// The address inside the last `<...>`, or the whole trimmed text.
    static func bareAddress(_ text: String, field: String) throws(DeliveryFailure) -> String {
        var address = text.trimmingCharacters(in: " \t")
        if let open = address.lastIndex(of: "<"), let close = address.lastIndex(of: ">"), open < close {
            address = String(address[address.index(after: open)..<close])
        }
        let valid = !address.isEmpty && address.contains("@")
            && address.utf8.allSatisfy { (33...126).contains($0) && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }
        guard valid else {
            throw DeliveryFailure(permanent: true, reason: "\(field) address '\(text)' is not a deliverable address")
        }
        return address
    }

    /// An address header: `Name <addr>` with the display name encoded when not plain ASCII.
    static func addressHeader(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: " \t")
        guard let open = trimmed.lastIndex(of: "<") else {
            return MIMEEncoding.headerValue(trimmed)
        }
        let name = trimmed[..<open].trimmingCharacters(in: " \t\"")
        // Only what stands between < and the next > goes out: anything after it (a CRLF
        // and a header, say) is dropped rather than written into the header block.
        let afterOpen = trimmed[trimmed.index(after: open)...]
        let inner = afterOpen.firstIndex(of: ">").map { afterOpen[..<$0] } ?? afterOpen
        let address = "<" + inner.filter { !$0.isNewline && $0 != "\r" } + ">"
        if name.isEmpty { return String(address) }
        if MIMEEncoding.isPlainHeaderText(name) {
            let specials = "()<>[]:;@\\,.\""
            let quoted = name.contains(where: { specials.contains($0) })
                ? "\"\(name.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\""))\"" : name
            return "\(quoted) \(address)"
        }
        return "\(MIMEEncoding.headerValue(name)) \(address)"
    }

    /// "Tue, 01 Jul 2025 12:00:00 +0000".
    static func rfc5322Date(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }

    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var view = Substring(self).unicodeScalars[...]
        while let first = view.first, scalars.contains(first) { view = view.dropFirst() }
        while let last = view.last, scalars.contains(last) { view = view.dropLast() }
        return String(view)
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
