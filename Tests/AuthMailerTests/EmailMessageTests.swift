import AuthClient
import Testing

@testable import AuthMailer

/// Decodes quoted-printable, for checking the encoder against its inverse.
func decodeQuotedPrintable(_ text: String) -> String {
    var bytes: [UInt8] = []
    let input = Array(text.utf8)
    var index = 0
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    while index < input.count {
        let byte = input[index]
        if byte == UInt8(ascii: "=") {
            if index + 2 < input.count, input[index + 1] == 13, input[index + 2] == 10 {
                index += 3  // soft break
                continue
            }
            if index + 2 < input.count, let high = hex(input[index + 1]), let low = hex(input[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
                continue
            }
        }
        bytes.append(byte)
        index += 1
    }
    return String(decoding: bytes, as: UTF8.self)
}

func decodeBase64(_ text: String) -> [UInt8] {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var bits: UInt32 = 0
    var count = 0
    var output: [UInt8] = []
    for byte in text.utf8 where byte != UInt8(ascii: "=") {
        guard let value = alphabet.firstIndex(of: byte) else { continue }
        bits = bits << 6 | UInt32(value)
        count += 6
        if count >= 8 {
            count -= 8
            output.append(UInt8((bits >> UInt32(count)) & 0xFF))
        }
    }
    return output
}

func sample(
    to: String = "ada@example.com",
    subject: String = "Your code",
    text: String = "Your code is 12345678.\n",
    html: String = "<p>Your code is <b>12345678</b>.</p>",
    headers: [String: String] = ["Auto-Submitted": "auto-generated"]
) -> AuthV1.OutboxMessage {
    AuthV1.OutboxMessage(
        id: 7, leaseToken: "t", messageID: "<0a1b2c@authd>", from: "authd <no-reply@example.com>", to: to,
        subject: subject, textBody: text, htmlBody: html, headers: headers, attempt: 1)
}

@Suite struct MIMEEncodingTests {
    @Test func base64MatchesKnownVectors() {
        #expect(MIMEEncoding.base64(Array("".utf8)) == "")
        #expect(MIMEEncoding.base64(Array("f".utf8)) == "Zg==")
        #expect(MIMEEncoding.base64(Array("fo".utf8)) == "Zm8=")
        #expect(MIMEEncoding.base64(Array("foobar".utf8)) == "Zm9vYmFy")
    }

    @Test(arguments: [
        "plain line",
        "trailing space \nand tab\t\nnext",
        "a=b, 100% sure",
        ".leading dot\n..two",
        String(repeating: "x", count: 300),
        String(repeating: "é", count: 100) + "\r\nCRLF\rCR",
        "Grüße aus Köln — 你好 👋🏽",
    ])
    func quotedPrintableRoundTripsWithShortLines(_ text: String) {
        let encoded = MIMEEncoding.quotedPrintable(text)
        let normalised = MIMEEncoding.lines(text).map { String(decoding: Array($0), as: UTF8.self) }.joined(separator: "\r\n")
        #expect(decodeQuotedPrintable(encoded) == normalised)
        for line in encoded.split(separator: "\r\n", omittingEmptySubsequences: false) {
            #expect(line.utf8.count <= 76)
            #expect(!line.hasSuffix(" ") && !line.hasSuffix("\t"))
            #expect(!line.hasPrefix("."))
            #expect(line.utf8.allSatisfy { $0 < 128 && $0 != 13 && $0 != 10 })
        }
    }

    @Test func plainHeaderValuesStayAsTheyAre() {
        #expect(MIMEEncoding.headerValue("Your code") == "Your code")
    }

    @Test func nonASCIIHeadersBecomeEncodedWords() {
        let subject = "Ihr Bestätigungscode für Köln — " + String(repeating: "ü", count: 40)
        let encoded = MIMEEncoding.headerValue(subject)
        let words = encoded.split(separator: "\r\n ").map(String.init)
        #expect(words.count > 1)
        var decoded: [UInt8] = []
        for word in words {
            #expect(word.utf8.count <= 75)
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let chunk = decodeBase64(String(word.dropFirst(10).dropLast(2)))
            #expect(String(validating: chunk, as: UTF8.self) != nil, "a word split a character")
            decoded += chunk
        }
        #expect(String(decoding: decoded, as: UTF8.self) == subject)
    }

    @Test func lineBreaksCannotInjectHeaders() {
        let value = MIMEEncoding.headerValue("hello\r\nBcc: victim@example.com")
        #expect(!value.contains("\r\nBcc"))
        #expect(value == "hello Bcc: victim@example.com")
    }
}

@Suite struct EmailMessageTests {
    @Test func rendersAMultipartMessageWithCRLF() throws {
        let email = try EmailMessage(sample(), date: 1_751_371_200)
        let text = String(decoding: email.bytes, as: UTF8.self)
        #expect(email.envelopeFrom == "no-reply@example.com")
        #expect(email.envelopeTo == "ada@example.com")
        #expect(email.messageID == "<0a1b2c@authd>")
        // Every line break is CRLF.
        #expect(!text.replacingAll("\r\n", with: "").contains("\n"))
        #expect(!text.replacingAll("\r\n", with: "").contains("\r"))
        let head = String(text[..<text.firstRange(of: "\r\n\r\n")!.lowerBound])
        let headers = head.split(separator: "\r\n").map(String.init)
        #expect(headers.contains("From: authd <no-reply@example.com>"))
        #expect(headers.contains("To: ada@example.com"))
        #expect(headers.contains("Subject: Your code"))
        #expect(headers.contains("Date: Tue, 01 Jul 2025 12:00:00 +0000"))
        #expect(headers.contains("Message-ID: <0a1b2c@authd>"))
        #expect(headers.contains("MIME-Version: 1.0"))
        #expect(headers.contains("Auto-Submitted: auto-generated"))
        #expect(headers.contains { $0.hasPrefix("Content-Type: multipart/alternative; boundary=\"=_authd_") })
        #expect(text.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nYour code is 12345678.\r\n"))
        #expect(text.contains("Content-Type: text/html; charset=utf-8"))
        #expect(text.contains("<p>Your code is <b>12345678</b>.</p>"))
        #expect(text.hasSuffix("--\r\n"))
    }

    @Test func sameRowSameMessageID() throws {
        let first = try EmailMessage(sample(), date: 1)
        let second = try EmailMessage(sample(), date: 2)
        #expect(first.messageID == second.messageID)
        var bare = sample()
        bare.messageID = "0a1b2c@authd"
        #expect(try EmailMessage(bare, date: 1).messageID == "<0a1b2c@authd>")
    }

    @Test func oneBodyMeansOnePart() throws {
        let text = String(decoding: try EmailMessage(sample(html: ""), date: 0).bytes, as: UTF8.self)
        #expect(!text.contains("multipart"))
        #expect(text.contains("Content-Type: text/plain; charset=utf-8\r\n"))
    }

    @Test func extraHeadersCannotReplaceOursOrAddRecipients() throws {
        let email = try EmailMessage(sample(headers: [
            "To": "evil@example.com", "bcc": "evil@example.com", "Bad Name": "x", "X-Tag": "a\nb",
        ]), date: 0)
        let text = String(decoding: email.bytes, as: UTF8.self)
        #expect(!text.contains("evil@example.com"))
        #expect(!text.contains("Bad Name"))
        #expect(text.contains("X-Tag: a b\r\n"))
    }

    @Test func nonASCIIDisplayNamesAndSubjectsAreEncoded() throws {
        var message = sample(subject: "Café ☕")
        message.from = "Bäckerei <shop@example.com>"
        let text = String(decoding: try EmailMessage(message, date: 0).bytes, as: UTF8.self)
        #expect(text.contains("Subject: =?UTF-8?B?\(MIMEEncoding.base64(Array("Café ☕".utf8)))?="))
        #expect(text.contains("From: =?UTF-8?B?\(MIMEEncoding.base64(Array("Bäckerei".utf8)))?= <shop@example.com>"))
    }

    @Test(arguments: ["", "no-at-sign", "two words@example.com", "<>"])
    func undeliverableAddressesArePermanentFailures(_ to: String) {
        #expect(throws: DeliveryFailure.self) { try EmailMessage(sample(to: to), date: 0) }
        do {
            _ = try EmailMessage(sample(to: to), date: 0)
        } catch {
            #expect(error.permanent)
        }
    }

    @Test func fileNamesComeFromTheMessageID() {
        #expect(FileTransport.fileName(messageID: "<0a1b2c@authd>") == "0a1b2c@authd.eml")
        #expect(FileTransport.fileName(messageID: "<../../etc/passwd>") == "_.._.._etc_passwd.eml")
        #expect(!FileTransport.fileName(messageID: "<../x>").contains("/"))
        #expect(!FileTransport.fileName(messageID: "<..>").hasPrefix("."))
    }
}

@Suite("Address headers")
struct AddressHeaderTests {
    @Test("nothing after the address's > reaches the header block", arguments: [
        "A <a@b.example>\r\nBcc: x@y.example",
        "A <a@b.example>\nBcc: x@y.example",
        "<a@b.example>trailing\r\nX-Evil: 1",
    ])
    func noInjection(value: String) {
        let header = EmailMessage.addressHeader(value)
        #expect(!header.contains("\r") && !header.contains("\n"))
        #expect(!header.contains("Bcc") && !header.contains("X-Evil"))
        #expect(header.hasSuffix("<a@b.example>"))
    }
}
