/// What one authd process changed that every other process on the same database must
/// forget from memory: session cache entries (`SessionCache`) and the directory's
/// snapshot (`Directory`). SQLite serves one process, which forgets its own; a store that
/// several processes share (PostgreSQL) carries these between them.
public enum SharedChange: Hashable, Sendable {
    /// The cached sessions of one user (a profile, password, role or blocked change).
    case sessionsOf(UserID)
    /// One cached session (a logout).
    case session(tokenHash: [UInt8])
    /// Every cached session (a role renamed or deleted, an import, removal of everything).
    case allSessions
    /// The directory snapshot: groups, page rules, settings, templates.
    case directory
    /// Changes may have been missed (the listening connection was lost): forget everything.
    case everything
}

/// How the processes on one database tell each other what they changed.
public protocol SharedChangeFeed: Sendable {
    /// Tells every other process; returns once the database has taken the message, so a
    /// caller answered afterwards is answered after the others were told.
    func announce(_ change: SharedChange) async

    /// What the other processes announce, in order, `.everything` after any gap.
    func sharedChanges() -> AsyncStream<SharedChange>
}

extension SessionCache {
    /// Drops what `change` names; the directory's part is `Directory.invalidate`'s.
    public func forget(_ change: SharedChange) {
        switch change {
        case .sessionsOf(let user): dropSessions(of: user)
        case .session(let tokenHash): dropSession(tokenHash: tokenHash)
        case .allSessions, .everything: dropAll()
        case .directory: break
        }
    }
}
