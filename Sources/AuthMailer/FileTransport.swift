public import AuthClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each message as `<Message-ID>.eml` into a directory, for development. The file
/// is written to a temporary name and renamed, so a reader never sees half a message, and
/// its name comes from the stable Message-ID, so a resend replaces the earlier copy.
/// Not fsync'd: a machine crash can lose a message the worker acknowledged.
public struct FileTransport: MailTransport {
    public let directory: String
    private let io = BlockingQueue()
    private let clock: @Sendable () -> Int64

    public init(directory: String, clock: @escaping @Sendable () -> Int64 = UnixClock.now) {
        self.directory = directory
        self.clock = clock
    }

    /// Creates the directory (one level) when it is missing.
    public func prepare() throws(DeliveryFailure) {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw DeliveryFailure(permanent: false, reason: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// "<a1b2@authd>" → "a1b2@authd.eml"; characters unsafe in a file name become "_".
    public static func fileName(messageID: String) -> String {
        let inner = messageID.trimmingCharacters(in: "<> \t")
        let safe = inner.unicodeScalars.map { scalar -> Character in
            let allowed = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                || "@._+-".unicodeScalars.contains(scalar))
            return allowed ? Character(scalar) : "_"
        }
        var name = String(safe)
        if name.isEmpty || name.hasPrefix(".") { name = "_" + name }
        return String(name.prefix(200)) + ".eml"
    }

    public func send(_ message: AuthV1.OutboxMessage) async throws(DeliveryFailure) {
        let email = try EmailMessage(message, date: clock())
        let path = directory + "/" + Self.fileName(messageID: email.messageID)
        let temporary = directory + "/.tmp-\(getpid())-\(message.id)"
        let error: String? = await io.run {
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return "open \(temporary): \(String(cString: strerror(errno)))" }
            let written = email.bytes.withUnsafeBytes { buffer -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += n
                }
                return true
            }
            let writeError = written ? nil : "write \(temporary): \(String(cString: strerror(errno)))"
            close(fd)
            if let writeError {
                unlink(temporary)
                return writeError
            }
            if rename(temporary, path) != 0 {
                let reason = "rename to \(path): \(String(cString: strerror(errno)))"
                unlink(temporary)
                return reason
            }
            return nil
        }
        if let error { throw DeliveryFailure(permanent: false, reason: error) }
    }
}
