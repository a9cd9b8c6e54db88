internal import AuthCore
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    /// Queues `message` (due at its creation time) in the caller's transaction.
    static func enqueue(_ message: NewOutboxMessage, headers: String, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO outbox
                (message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, state, next_attempt_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                message.messageID, message.kind, message.sender, message.recipient, message.subject,
                message.textBody, message.htmlBody, headers,
                message.createdAt, OutboxState.queued, message.createdAt,
            ])
    }

    /// Headers are stored as a JSON object with sorted keys.
    static func encodeHeaders(_ headers: [String: String]) throws(AuthError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(headers), as: UTF8.self)
        } catch {
            throw .storage("encode email headers: \(error)")
        }
    }

    static func decodeHeaders(_ json: String, messageID: String) throws(AuthError) -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        } catch {
            throw .storage("outbox message \(messageID) has malformed headers: \(error)")
        }
    }
}
