#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The end user's address as the calling backend reports it (`x-client-address`), in
/// one normal form, so that one person cannot look like many to the per-address throttles
/// by spelling the address differently.
///
/// IPv4 is four decimal numbers (leading zeros dropped: "010.0.0.1" is 10.0.0.1); an
/// IPv4-mapped IPv6 address ("::ffff:10.0.0.1") is that IPv4 address; other IPv6
/// addresses are grouped by their first `ipv6PrefixLength` bits (a /64 is one home or one
/// server), written as "2001:db8:1:2::/64". Anything else is refused.
public struct ClientAddress: Hashable, Sendable, CustomStringConvertible {
    /// The longest text accepted before parsing ("ffff:…" with a zone is well under it).
    public static let maximumLength = 64
    static let field = "x-client-address"

    /// The address as stored with a session (whole, not grouped).
    public let address: String
    /// What the throttles count against: the address, or its IPv6 group.
    public let throttleSubject: String

    public init(parsing raw: String, ipv6PrefixLength: Int = 64) throws(AuthError) {
        precondition((1...128).contains(ipv6PrefixLength))
        let text = raw.trimmingWhitespace()
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else {
            throw .invalidArgument("\(Self.field) must be an IP address of at most \(Self.maximumLength) characters", field: Self.field)
        }
        if let v4 = Self.parseIPv4(text) {
            address = Self.format(v4)
            throttleSubject = address
            return
        }
        var v6 = in6_addr()
        let parsed = text.withCString { inet_pton(AF_INET6, $0, &v6) }
        guard parsed == 1 else {
            throw .invalidArgument("\(Self.field) '\(text.prefix(Self.maximumLength))' is not an IPv4 or IPv6 address", field: Self.field)
        }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            address = Self.format(Array(bytes[12..<16]))
            throttleSubject = address
            return
        }
        address = Self.format(v6: bytes)
        var prefix = bytes
        for bit in ipv6PrefixLength..<128 {
            prefix[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8))
        }
        throttleSubject = Self.format(v6: prefix) + "/\(ipv6PrefixLength)"
    }

    public var description: String { address }

    private static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.utf8.count <= 3, part.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    private static func format(_ v4: [UInt8]) -> String {
        v4.map(String.init).joined(separator: ".")
    }

    /// RFC 5952's canonical text, through the C library.
    private static func format(v6 bytes: [UInt8]) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self)
    }
}
