import Testing
@testable import AuthCore

@Suite("Validation")
struct ValidationTests {
    @Test(arguments: [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
        ("a.b@x-y.example", "a.b@x-y.example"),
    ])
    func emailsAreTrimmedAndLowerCased(raw: String, normalized: String) throws {
        #expect(try Validation.normalizedEmail(raw) == normalized)
    }

    @Test(arguments: [
        "", "   ", "ada", "ada@", "@example.com", "a@b@example.com", "ada@example", "ada@-example.com",
        "ada@example-.com", "ada@exa_mple.com", ".ada@example.com", "ada.@example.com", "a..da@example.com",
        "ad a@example.com", "ada@example..com", "\u{212A}@example.com",
    ])
    func badEmailsAreRefusedOnTheirField(raw: String) {
        let error = #expect(throws: AuthError.self) { try Validation.normalizedEmail(raw, field: "user.email") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.field == "user.email")
    }

    @Test func emailLengthIsBounded() throws {
        let local = String(repeating: "a", count: 64)
        _ = try Validation.normalizedEmail(local + "@example.com")
        #expect(throws: AuthError.self) { try Validation.normalizedEmail(local + "a@example.com") }
        let domain = (0..<5).map { _ in String(repeating: "d", count: 60) }.joined(separator: ".") + ".com"
        #expect(throws: AuthError.self) { try Validation.normalizedEmail("a@" + domain) }
    }

    @Test func attributesAreCheckedByNameAndValue() throws {
        let limits = Validation.AttributeLimits.defaults
        try Validation.checkAttributes(["name": "Ada", "image": "https://img.example/a.png", "bio": "two\nlines\tand tab"], limits: limits)
        let badName = #expect(throws: AuthError.self) { try Validation.checkAttributes(["bad name": "x"], limits: limits) }
        #expect(badName?.field == "attributes[bad name]")
        let long = #expect(throws: AuthError.self) {
            try Validation.checkAttributes(["name": String(repeating: "x", count: 4097)], limits: limits)
        }
        #expect(long?.field == "attributes[name]")
        #expect(throws: AuthError.self) { try Validation.checkAttributes(["name": "bell\u{7}"], limits: limits) }
        #expect(throws: AuthError.self) { try Validation.checkAttributes([String(repeating: "n", count: 65): "x"], limits: limits) }
        try Validation.checkAttributeCount(64, limits: limits)
        let many = #expect(throws: AuthError.self) { try Validation.checkAttributeCount(65, limits: limits) }
        #expect(many?.field == "attributes")
    }

    @Test func passwordsAreCountedInCharacters() throws {
        let policy = Validation.PasswordPolicy.defaults
        try Validation.checkPassword("secret", policy: policy)
        try Validation.checkPassword("🙂🙂🙂🙂🙂🙂", policy: policy)  // six characters, 24 bytes
        let short = #expect(throws: AuthError.self) { try Validation.checkPassword("five5", policy: policy) }
        #expect(short?.field == "password")
        #expect(short?.message.contains("at least 6") == true)
        try Validation.checkPassword(String(repeating: "x", count: 1024), policy: policy)
        #expect(throws: AuthError.self) { try Validation.checkPassword(String(repeating: "x", count: 1025), policy: policy) }
        let stricter = Validation.PasswordPolicy(minimumLength: 12)
        #expect(throws: AuthError.self) { try Validation.checkPassword("elevenchars", policy: stricter) }
    }
}
