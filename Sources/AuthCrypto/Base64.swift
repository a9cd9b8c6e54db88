/// Base64 with the URL-safe alphabet (RFC 4648 §5) and no padding: tokens that survive URLs, headers and
/// copy-paste unchanged. `decode` is strict: no padding, no whitespace, no stray bits; nil otherwise.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String { Base64Alphabet.url.encode(bytes) }
    public static func decode(_ string: String) -> [UInt8]? { Base64Alphabet.url.decode(string) }
}

/// Base64 with the standard alphabet (`+/`) and no padding, the encoding PHC strings use for salt and hash.
/// `decode` is strict in the same way as ``Base64URL/decode(_:)``, so every value has exactly one spelling.
public enum PHCBase64 {
    public static func encode(_ bytes: [UInt8]) -> String { Base64Alphabet.standard.encode(bytes) }
    public static func decode(_ string: String) -> [UInt8]? { Base64Alphabet.standard.decode(string) }
}

struct Base64Alphabet: Sendable {
    static let standard = Base64Alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    static let url = Base64Alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    private static let invalid: UInt8 = 0xFF
    private let symbols: [UInt8]
    private let values: [UInt8]

    private init(_ alphabet: String) {
        symbols = Array(alphabet.utf8)
        precondition(symbols.count == 64)
        var values = [UInt8](repeating: Self.invalid, count: 256)
        for (value, symbol) in symbols.enumerated() { values[Int(symbol)] = UInt8(value) }
        self.values = values
    }

    func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(symbols[Int(group >> 18 & 63)])
            output.append(symbols[Int(group >> 12 & 63)])
            output.append(symbols[Int(group >> 6 & 63)])
            output.append(symbols[Int(group & 63)])
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            output.append(symbols[Int(group >> 18 & 63)])
            output.append(symbols[Int(group >> 12 & 63)])
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output.append(symbols[Int(group >> 18 & 63)])
            output.append(symbols[Int(group >> 12 & 63)])
            output.append(symbols[Int(group >> 6 & 63)])
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    func decode(_ string: String) -> [UInt8]? {
        let input = Array(string.utf8)
        // A lone trailing symbol carries only 6 bits: never a whole byte.
        guard input.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for symbol in input {
            let value = values[Int(symbol)]
            guard value != Self.invalid else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, or two strings would decode to the same bytes.
        guard accumulator == 0 else { return nil }
        return output
    }
}
