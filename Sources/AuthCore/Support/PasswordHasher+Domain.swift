import AuthCrypto
import Logging

/// The hasher as the domain uses it: its failures as `AuthError`.
extension PasswordHasher {
    func hashForStorage(_ password: String, for source: HashSource = .operator) async throws(AuthError) -> String {
        do {
            return try await hash(password, for: source)
        } catch {
            throw Self.domainError(error)
        }
    }

    func check(
        _ password: String,
        against stored: String,
        for source: HashSource,
        logger: Logger
    ) async throws(AuthError) -> PasswordVerification {
        do {
            return try await verify(password, against: stored, for: source)
        } catch {
            if case .malformedHash = error {
                logger.error("stored password hash is unreadable: \(error)")
                throw AuthError(.internal, "the stored password hash cannot be read")
            }
            throw Self.domainError(error)
        }
    }

    /// The work of a verify for an unknown account, so timing does not reveal existence.
    func spendVerifyCost(_ password: String, for source: HashSource) async throws(AuthError) {
        do {
            try await burnVerifyCost(password, for: source)
        } catch {
            throw Self.domainError(error)
        }
    }

    private static func domainError(_ error: PasswordHashError) -> AuthError {
        switch error {
        case .queueFull(let wait):
            AuthError(
                .resourceExhausted,
                "too many password checks are waiting; try again in \(max(1, (wait.wholeMilliseconds + 999) / 1000)) s",
                retryAfter: wait
            )
        case .malformedHash(let reason), .hashingFailed(let reason):
            AuthError(.internal, "password hashing failed: \(reason)")
        }
    }
}

/// Whose turn a hash is at the hasher: the end user's address when the caller reports
/// one (a flood from one address then waits behind itself), else the account.
func hashSource(_ address: ClientAddress?, account: String) -> HashSource {
    .endUser(address.map { "address:\($0.throttleSubject)" } ?? "account:\(account)")
}
