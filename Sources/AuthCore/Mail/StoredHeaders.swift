internal import Foundation

/// How a queued message's extra headers are stored, by every store: one JSON object with
/// sorted keys in a text column.
public enum StoredHeaders {
    public static func encode(_ headers: [String: String]) throws(AuthError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(headers), as: UTF8.self)
        } catch {
            throw .storage("encode email headers: \(error)")
        }
    }

    public static func decode(_ json: String, messageID: String) throws(AuthError) -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        } catch {
            throw .storage("outbox message \(messageID) has malformed headers: \(error)")
        }
    }
}
