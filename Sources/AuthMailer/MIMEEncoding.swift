/// The content encodings an RFC 5322 / MIME message needs: base64, quoted-printable
/// (RFC 2045) and encoded words (RFC 2047). Pure functions, so they are tested alone.
enum MIMEEncoding {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Standard base64 with padding, one line.
    static func base64<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let b0 = input[index]
            let b1 = index + 1 < input.count ? input[index + 1] : 0
            let b2 = index + 2 < input.count ? input[index + 2] : 0
            output.append(base64Alphabet[Int(b0 >> 2)])
            output.append(base64Alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < input.count ? base64Alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < input.count ? base64Alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Splits text into lines at CRLF, LF or lone CR.
    static func lines(_ text: String) -> [Substring.UTF8View] {
        var result: [Substring.UTF8View] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                result.append(text[start..<index].utf8)
                var next = utf8.index(after: index)
                if byte == UInt8(ascii: "\r"), next != utf8.endIndex, utf8[next] == UInt8(ascii: "\n") {
                    next = utf8.index(after: next)
                }
                index = next
                start = next
            } else {
                index = utf8.index(after: index)
            }
        }
        result.append(text[start..<utf8.endIndex].utf8)
        return result
    }

    /// Quoted-printable (RFC 2045 §6.7) of UTF-8 text: line breaks become CRLF hard breaks,
    /// encoded lines are at most 76 characters (soft breaks `=`), trailing white space and a
    /// leading `.` are encoded, so the body survives any 7-bit relay unchanged.
    static func quotedPrintable(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        let maximumLine = 76
        for (lineNumber, line) in lines(text).enumerated() {
            if lineNumber > 0 { output.append(contentsOf: [13, 10]) }
            var column = 0
            let bytes = Array(line)
            for (position, byte) in bytes.enumerated() {
                let isLast = position == bytes.count - 1
                let literal: Bool
                switch byte {
                case UInt8(ascii: "="): literal = false
                case UInt8(ascii: " "), UInt8(ascii: "\t"): literal = !isLast
                case UInt8(ascii: "."): literal = column != 0
                case 33...126: literal = true
                default: literal = false
                }
                let width = literal ? 1 : 3
                // Room for this token, and for a soft break's "=" unless it ends the line.
                let limit = isLast ? maximumLine : maximumLine - 1
                if column + width > limit {
                    output.append(contentsOf: [UInt8(ascii: "="), 13, 10])
                    column = 0
                }
                if literal && !(byte == UInt8(ascii: ".") && column == 0) {
                    output.append(byte)
                    column += 1
                } else {
                    output.append(UInt8(ascii: "="))
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                    column += 3
                }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// True when `text` can go into a header as it is: printable ASCII and spaces,
    /// no encoded-word look-alike, short enough for one line.
    static func isPlainHeaderText(_ text: String) -> Bool {
        guard text.utf8.count <= 900, !text.contains("=?") else { return false }
        return text.utf8.allSatisfy { (32...126).contains($0) || $0 == 9 }
    }

    /// `text` as a header value: unchanged when plain, else RFC 2047 "B" encoded words of
    /// UTF-8 (each at most 75 characters, split between characters), folded onto
    /// continuation lines. Line breaks in the input become spaces: a header value cannot
    /// start a new header.
    static func headerValue(_ text: String) -> String {
        let flat = String(text.map { $0 == "\r\n" || $0 == "\n" || $0 == "\r" ? " " : $0 })
        if isPlainHeaderText(flat) { return flat }
        let maximumBytesPerWord = 45  // 60 base64 characters + "=?UTF-8?B?" + "?=" = 72
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in flat {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty, chunk.count + bytes.count > maximumBytesPerWord {
                words.append("=?UTF-8?B?\(base64(chunk))?=")
                chunk.removeAll(keepingCapacity: true)
            }
            chunk.append(contentsOf: bytes)
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?\(base64(chunk))?=") }
        return words.joined(separator: "\r\n ")
    }
}
