#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a secret to a new file only its owner can read.
enum SecretFile {
    struct WriteError: Error, CustomStringConvertible {
        let description: String
    }

    /// Fails when the file exists: a secret file is never overwritten.
    static func write(_ contents: String, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WriteError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var remaining = Array(contents.utf8)[...]
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else {
                throw WriteError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            remaining = remaining.dropFirst(written)
        }
    }
}
