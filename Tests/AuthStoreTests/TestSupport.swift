import AuthCore
import Foundation
@testable import AuthStore

/// Runs `body` with the path of a database file (not yet created) in a fresh temporary
/// directory, and removes the directory afterwards.
func withDatabasePath(_ body: (String) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("authstore-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try await body(directory.appendingPathComponent("authd.sqlite").path)
}

/// Runs `body` with a store over a fresh file, closing it and removing the file afterwards.
func withStore(_ body: (SQLiteStorage) async throws -> Void) async throws {
    try await withDatabasePath { path async throws in
        let store = try SQLiteStorage(path: path)
        do {
            try await body(store)
        } catch {
            try? store.close()
            throw error
        }
        try store.close()
    }
}

let t0 = Timestamp(milliseconds: 1_800_000_000_000)
let idleTimeout = Duration.seconds(30 * 60)
let absoluteTimeout = Duration.seconds(30 * 24 * 3600)

func randomBytes(_ count: Int = 32) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255) }
}

func newUser(
    _ email: String,
    attributes: [String: String] = [:],
    roles: [String] = [],
    passwordHash: String? = "$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA",
    at time: Timestamp = t0
) -> NewUser {
    NewUser(email: email, attributes: attributes, roles: roles, passwordHash: passwordHash, createdAt: time)
}

func newSession(for userID: UserID, at time: Timestamp = t0, clientAddress: String? = nil) -> NewSession {
    NewSession(
        userID: userID,
        tokenHash: randomBytes(),
        createdAt: time,
        idleExpiresAt: time + idleTimeout,
        absoluteExpiresAt: time + absoluteTimeout,
        clientAddress: clientAddress
    )
}

func resetEmail(to recipient: String, at time: Timestamp = t0, headers: [String: String] = [:]) -> NewOutboxMessage {
    NewOutboxMessage(
        messageID: "\(UUID().uuidString.lowercased())@authd",
        kind: .verificationCode,
        sender: "no-reply@example.com",
        recipient: recipient,
        subject: "Your code",
        textBody: "Your code is 123456",
        htmlBody: "<p>Your code is 123456</p>",
        headers: headers,
        createdAt: time
    )
}

func resetCode(for userID: UserID, hash: [UInt8], at time: Timestamp = t0) -> NewOneTimeCode {
    NewOneTimeCode(
        userID: userID,
        purpose: .passwordReset,
        codeHash: hash,
        createdAt: time,
        expiresAt: time + .seconds(15 * 60)
    )
}
