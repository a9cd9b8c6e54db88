/// The write side of a CSV import.
public protocol ImportStore: Sendable {
    /// One write transaction for the whole batch: each user is created, or, when its email
    /// exists, skipped, updated or reported `.exists` by `onExisting`; one outcome per user,
    /// in order. Every role must exist (`.invalidArgument`, field "roles", fails the batch).
    /// An update sets the given attributes (others stay), replaces roles when given, sets
    /// the password hash and blocked flag when given; a new hash or blocking ends the user's
    /// sessions.
    func importUsers(_ users: [ImportedUser], onExisting: ExistingUserPolicy, at now: Timestamp) async throws(AuthError) -> [ImportWriteOutcome]
}
