internal import AuthCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The database file and the WAL and shared-memory files beside it hold password hashes
/// and token hashes: only the owner may read them, whatever the umask of whoever started
/// the process.
enum DatabaseFiles {
    static func paths(of database: String) -> [String] {
        [database, database + "-wal", database + "-shm"]
    }

    /// Sets mode 0600 on each of the files that exists.
    static func restrictModes(of database: String) throws(AuthError) {
        for path in paths(of: database) {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            if info.st_mode & 0o777 != 0o600, chmod(path, 0o600) != 0 {
                throw AuthError.storage("cannot make \(path) mode 0600: \(String(cString: strerror(errno)))")
            }
        }
    }
}

extension SQLiteStorage {
    /// Whether a file is at `path` (a database authd would open rather than create).
    public static func exists(path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}
