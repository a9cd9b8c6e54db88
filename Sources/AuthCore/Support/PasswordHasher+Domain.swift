import AuthCrypto
import Logging

/// The hasher as the domain uses it: its failures as `AuthError`.
extension PasswordHasher {
    func hashForStorage(_ password: String) async throws(AuthError) -> String {
        do {
            return try await hash(password)
        } catch {
            throw AuthError(.internal, "password hashing failed: \(error)")
        }
    }

    func check(_ password: String, against stored: String, logger: Logger) async throws(AuthError) -> PasswordVerification {
        do {
            return try await verify(password, against: stored)
        } catch {
            logger.error("stored password hash is unreadable: \(error)")
            throw AuthError(.internal, "the stored password hash cannot be read")
        }
    }
}
