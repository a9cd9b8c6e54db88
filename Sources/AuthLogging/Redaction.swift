public import Logging

/// What may appear in logs of a service holding people's accounts: account ids yes;
/// passwords, tokens, codes and key secrets never; email addresses only masked at info
/// and above, so that an operator can tell accounts apart without the log becoming a
/// list of customers.
public enum Redaction {
    /// "grace@example.com" → "g***@example.com"; something that is not an address → "***".
    public static func maskedEmail(_ address: String) -> String {
        // A display name ("Grace <grace@example.com>") keeps only the address part.
        var bare = Substring(address)
        if let open = bare.lastIndex(of: "<"), let close = bare.lastIndex(of: ">"), open < close {
            bare = bare[bare.index(after: open)..<close]
        }
        guard let at = bare.lastIndex(of: "@"), at > bare.startIndex else { return "***" }
        return "\(bare[bare.startIndex])***\(bare[at...])"
    }

    /// The address as `logger` may show it: whole at debug and trace, masked otherwise.
    public static func email(_ address: String, for logger: Logger) -> Logger.MetadataValue {
        logger.logLevel <= .debug ? "\(address)" : "\(maskedEmail(address))"
    }
}
