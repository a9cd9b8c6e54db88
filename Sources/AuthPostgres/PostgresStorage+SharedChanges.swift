public import AuthCore
internal import AuthCrypto
internal import PostgresNIO

/// The processes on one database tell each other what to forget through PostgreSQL's
/// `NOTIFY` on one channel; each listens on one pooled connection for its whole life.
/// A payload is `<sender> <kind>[:<argument>]`; a process skips its own.
extension PostgresStorage: SharedChangeFeed {
    static let sharedChangesChannel = "authd_shared_changes"

    /// Sent outside any transaction, after the write committed: the others learn of it
    /// before this call's caller is answered. Should the notification fail (the database
    /// just went away), the others' listening connections fail too, and each forgets
    /// everything when it listens again.
    public func announce(_ change: SharedChange) async {
        let payload = "\(instanceID) \(Self.encode(change))"
        do {
            _ = try await withPooledConnection("announce a change") { [logger] connection in
                try await connection.query("SELECT pg_notify(\(Self.sharedChangesChannel), \(payload))", logger: logger)
            }
        } catch {
            logger.warning("could not announce a change to the other instances", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// Listens until the storage closes. Yields `.everything` each time listening (re)starts,
    /// so that what was cached before, or changed while no connection listened, is dropped.
    public func sharedChanges() -> AsyncStream<SharedChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: SharedChange.self, bufferingPolicy: .bufferingNewest(10_000))
        let task = Task { [client, logger, instanceID] in
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.sharedChangesChannel) { notifications in
                            continuation.yield(.everything)
                            for try await notification in notifications {
                                guard let (sender, change) = Self.decode(notification.payload) else {
                                    logger.warning("ignored a malformed shared change", metadata: ["payload": "\(notification.payload.prefix(100))"])
                                    continue
                                }
                                if sender != instanceID { continuation.yield(change) }
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("listening for the other instances' changes failed; listening again in 1 s", metadata: ["error": "\(String(reflecting: error))"])
                }
                continuation.yield(.everything)
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    static func encode(_ change: SharedChange) -> String {
        switch change {
        case .sessionsOf(let user): "user:\(user.rawValue)"
        case .session(let tokenHash): "session:" + Base64URL.encode(tokenHash)
        case .allSessions: "sessions"
        case .directory: "directory"
        case .everything: "everything"
        }
    }

    static func decode(_ payload: String) -> (sender: String, change: SharedChange)? {
        guard let space = payload.firstIndex(of: " ") else { return nil }
        let sender = String(payload[..<space])
        let body = payload[payload.index(after: space)...]
        let change: SharedChange
        if body.hasPrefix("user:") {
            change = .sessionsOf(UserID(rawValue: String(body.dropFirst(5))))
        } else if body.hasPrefix("session:") {
            guard let bytes = Base64URL.decode(String(body.dropFirst(8))) else { return nil }
            change = .session(tokenHash: bytes)
        } else {
            switch body {
            case "sessions": change = .allSessions
            case "directory": change = .directory
            case "everything": change = .everything
            default: return nil
            }
        }
        return (sender, change)
    }
}
