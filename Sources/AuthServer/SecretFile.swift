#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret files: new files only their owner can read, written whole or not at all.
public enum SecretFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates `path` (mode 0600 whatever the umask) holding `contents`, synced to disk.
    /// Fails when the file exists: a secret file is never overwritten. The bytes go to a
    /// temporary file beside it first, which is then linked into place, so `path` never
    /// exists half-written.
    public static func create(_ contents: String, at path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WriteError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        do {
            defer { close(descriptor) }
            // open() applied the umask; the mode is ours to say.
            guard fchmod(descriptor, 0o600) == 0 else {
                throw WriteError(description: "cannot set the mode of \(temporary): \(String(cString: strerror(errno)))")
            }
            var remaining = Array(contents.utf8)[...]
            while !remaining.isEmpty {
                let written = remaining.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                guard written > 0 else {
                    throw WriteError(description: "cannot write \(temporary): \(String(cString: strerror(errno)))")
                }
                remaining = remaining.dropFirst(written)
            }
            guard fsync(descriptor) == 0 else {
                throw WriteError(description: "cannot sync \(temporary): \(String(cString: strerror(errno)))")
            }
        }
        guard link(temporary, path) == 0 else {
            throw WriteError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The file's text, or nil when there is no such file.
    static func read(_ path: String) throws -> String? {
        guard let file = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw WriteError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            bytes.append(contentsOf: buffer[0..<count])
            if count < buffer.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func remove(_ path: String) {
        unlink(path)
    }
}
