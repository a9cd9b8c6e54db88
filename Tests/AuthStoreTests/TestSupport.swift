import AuthCore
import AuthdTesting
import Foundation

/// The store kinds every role suite runs against. A new implementation of `Storage`
/// runs all of them by adding its factory here.
let storeKinds: [StorageFactory] = StorageFactory.available

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

func apiKey(_ id: String, scope: KeyScope = .admin, at time: Timestamp = t0) -> NewAPIKey {
    NewAPIKey(id: id, name: "key \(id)", scope: scope, secretHash: randomBytes(), createdAt: time)
}
