/// Everything authd keeps, as one value: every storage role. `AuthStore.SQLiteStorage`
/// is the embedded implementation; a second one (PostgreSQL) implements the same roles.
///
/// Rules for every role:
/// - each method is one transaction, so that what must change together does (a code and
///   its email, a password and the sessions it ends);
/// - a unique email already taken is `.alreadyExists` with field "email"; a named thing
///   that must exist and does not is `.notFound`; anything else the database refuses is
///   `.internal` (`AuthError.storage`), and a database that cannot be reached `.unavailable`.
public typealias Storage = UserStore & SessionStore & CodeStore & ThrottleStore & OutboxStore
    & DirectoryStore & KeyStore & ImportStore
