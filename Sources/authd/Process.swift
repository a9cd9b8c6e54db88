#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every file authd creates (the database, its WAL and shared-memory files, key files)
/// is readable by its owner only, whatever umask it was started with.
func restrictFileModes() {
    umask(0o077)
}

/// Writes a line to standard error, leaving stdout to what scripts read.
func printError(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { break }
        offset += written
    }
}
