internal import AuthCore
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    /// Queues `message` (due at its creation time) in the caller's transaction.
    static func enqueue(_ message: NewOutboxMessage, headers: String, _ db: Database, into tables: CodeTables = .real) throws {
        try db.cachedStatement(sql: """
            INSERT INTO \(tables.outbox)
                (message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, state, next_attempt_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                message.messageID, message.kind, message.sender, message.recipient, message.subject,
                message.textBody, message.htmlBody, headers,
                message.createdAt, OutboxState.queued, message.createdAt,
            ])
    }
}
