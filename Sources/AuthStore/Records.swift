// Public imports: a conformance of a public type is public, so GRDB is part of this file's interface.
public import AuthCore
internal import Foundation
public import GRDB

// Record types: each reads its columns by name (GRDB's `FetchableRecord`), so a statement
// may select them in any order and a type mismatch is a thrown error, not a wrong field.
// Domain values that are one row are records themselves; a user, whose attributes and
// roles live in other tables, is read through `UserRow`.

/// A `users` row as `UserRow.columns` selects it: a `User` once its attributes and roles are read.
struct UserRow: FetchableRecord {
    static let columns = "id, email, password_hash, blocked, created_at, updated_at"

    var id: UserID
    var email: String
    var passwordHash: String?
    var blocked: Bool
    var createdAt: Timestamp
    var updatedAt: Timestamp

    init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        email = try row.decode(forColumn: "email")
        passwordHash = try row.decode(forColumn: "password_hash")
        blocked = try row.decode(forColumn: "blocked")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
    }

    func user(attributes: [String: String], roles: [String]) -> User {
        User(
            id: id,
            email: email,
            attributes: attributes,
            roles: roles,
            blocked: blocked,
            hasPassword: passwordHash != nil,
            createdAt: createdAt,
            updatedAt: updatedAt
        )
    }
}

/// A row of `Queries.authenticate`: a live session joined with its (unblocked) user.
struct AuthenticatedSessionRow: FetchableRecord {
    var sessionID: Int64
    var userID: UserID
    var sessionCreatedAt: Timestamp
    var lastSeenAt: Timestamp
    var idleExpiresAt: Timestamp
    var absoluteExpiresAt: Timestamp
    var email: String
    var hasPassword: Bool
    var userCreatedAt: Timestamp
    var userUpdatedAt: Timestamp

    init(row: Row) throws {
        sessionID = try row.decode(forColumn: "session_id")
        userID = try row.decode(forColumn: "user_id")
        sessionCreatedAt = try row.decode(forColumn: "session_created_at")
        lastSeenAt = try row.decode(forColumn: "last_seen_at")
        idleExpiresAt = try row.decode(forColumn: "idle_expires_at")
        absoluteExpiresAt = try row.decode(forColumn: "absolute_expires_at")
        email = try row.decode(forColumn: "email")
        hasPassword = try row.decode(forColumn: "has_password")
        userCreatedAt = try row.decode(forColumn: "user_created_at")
        userUpdatedAt = try row.decode(forColumn: "user_updated_at")
    }

    func session(tokenHash: [UInt8]) -> SessionRecord {
        SessionRecord(
            id: sessionID,
            userID: userID,
            tokenHash: tokenHash,
            createdAt: sessionCreatedAt,
            lastSeenAt: lastSeenAt,
            idleExpiresAt: idleExpiresAt,
            absoluteExpiresAt: absoluteExpiresAt
        )
    }

    func user(attributes: [String: String], roles: [String]) -> User {
        User(
            id: userID,
            email: email,
            attributes: attributes,
            roles: roles,
            blocked: false,
            hasPassword: hasPassword,
            createdAt: userCreatedAt,
            updatedAt: userUpdatedAt
        )
    }
}

/// The newest live code of a user and purpose, as a redemption compares it.
struct LiveCodeRow: FetchableRecord {
    var id: Int64
    var codeHash: [UInt8]
    var attempts: Int

    init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        codeHash = [UInt8](try row.decode(Data.self, forColumn: "code_hash"))
        attempts = try row.decode(forColumn: "attempts")
    }
}

extension NewOutboxMessage: FetchableRecord {
    /// An `outbox` row's message columns; headers are stored as a JSON object.
    public init(row: Row) throws {
        let messageID: String = try row.decode(forColumn: "message_id")
        self.init(
            messageID: messageID,
            kind: try row.decode(forColumn: "kind"),
            sender: try row.decode(forColumn: "sender"),
            recipient: try row.decode(forColumn: "recipient"),
            subject: try row.decode(forColumn: "subject"),
            textBody: try row.decode(forColumn: "text_body"),
            htmlBody: try row.decode(forColumn: "html_body"),
            headers: try StoredHeaders.decode(row.decode(forColumn: "headers"), messageID: messageID),
            createdAt: try row.decode(forColumn: "created_at")
        )
    }
}

extension ThrottleRecord: FetchableRecord {
    public init(row: Row) throws {
        self.init(
            failures: try row.decode(forColumn: "failures"),
            windowStartedAt: try row.decode(forColumn: "window_started_at"),
            lastFailureAt: try row.decode(forColumn: "last_failure_at")
        )
    }
}

extension APIKey: FetchableRecord {
    /// The columns of `Queries.apiKey`. An unknown scope (written by a newer build) is an error.
    public init(row: Row) throws {
        self.init(
            id: try row.decode(forColumn: "id"),
            name: try row.decode(forColumn: "name"),
            scope: try row.decode(forColumn: "scope"),
            createdAt: try row.decode(forColumn: "created_at"),
            lastUsedAt: try row.decode(forColumn: "last_used_at"),
            revokedAt: try row.decode(forColumn: "revoked_at")
        )
    }
}

extension DeadMessage: FetchableRecord {
    public init(row: Row) throws {
        self.init(
            id: try row.decode(forColumn: "id"),
            recipient: try row.decode(forColumn: "recipient"),
            subject: try row.decode(forColumn: "subject"),
            attempts: try row.decode(forColumn: "attempts"),
            lastError: try row.decode(String?.self, forColumn: "last_error") ?? "",
            createdAt: try row.decode(forColumn: "created_at")
        )
    }
}

extension QueueStatistics: FetchableRecord {
    public init(row: Row) throws {
        self.init(
            queued: try row.decode(forColumn: "queued"),
            leased: try row.decode(forColumn: "leased"),
            sent: try row.decode(forColumn: "sent"),
            retrying: try row.decode(forColumn: "retrying"),
            dead: try row.decode(forColumn: "dead"),
            oldestQueuedAt: try row.decode(forColumn: "oldest_queued_at")
        )
    }
}

extension RoleInfo: FetchableRecord {
    public init(row: Row) throws {
        self.init(name: try row.decode(forColumn: "name"), userCount: try row.decode(forColumn: "user_count"))
    }
}

extension StoredEmailTemplate: FetchableRecord {
    public init(row: Row) throws {
        self.init(
            kind: try row.decode(forColumn: "kind"),
            subject: try row.decode(forColumn: "subject"),
            textBody: try row.decode(forColumn: "text_body"),
            htmlBody: try row.decode(forColumn: "html_body"),
            updatedAt: try row.decode(forColumn: "updated_at")
        )
    }
}
