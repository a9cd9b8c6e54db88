public import AuthCore
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    public func outboxMessages(recipient: String?) async throws(AuthError) -> [OutboxRecord] {
        try await read("read outbox") { db in
            let columns = """
                id, message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at,
                state, attempts
                """
            let rows: RowCursor
            if let recipient {
                rows = try Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT \(columns) FROM outbox WHERE recipient = ? ORDER BY id"),
                    arguments: [recipient])
            } else {
                rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT \(columns) FROM outbox ORDER BY id"))
            }
            var records: [OutboxRecord] = []
            while let row = try rows.next() {
                let message = NewOutboxMessage(
                    messageID: row[1],
                    kind: row[2],
                    sender: row[3],
                    recipient: row[4],
                    subject: row[5],
                    textBody: row[6],
                    htmlBody: row[7],
                    headers: try Self.decodeHeaders(row[8], messageID: row[1]),
                    createdAt: Timestamp(milliseconds: row[9])
                )
                records.append(OutboxRecord(id: row[0], message: message, state: row[10], attempts: row[11]))
            }
            return records
        }
    }

    /// Queues `message` (state "queued", due at its creation time) in the caller's transaction.
    static func enqueue(_ message: NewOutboxMessage, headers: String, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO outbox
                (message_id, kind, sender, recipient, subject, text_body, html_body, headers, created_at, next_attempt_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                message.messageID, message.kind, message.sender, message.recipient, message.subject,
                message.textBody, message.htmlBody, headers,
                message.createdAt.milliseconds, message.createdAt.milliseconds,
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
