public import Logging

/// What may appear in logs of a service holding people's accounts: account ids yes;
/// passwords, tokens, codes and key secrets never; email addresses only masked on lines at
/// info and above (whatever the configured level), so that an operator can tell accounts
/// apart without the log becoming a list of customers.
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

    /// The address as a line at `level` may show it: whole at debug and trace, masked at
    /// info and above, also when the logger lets debug lines through.
    public static func email(_ address: String, at level: Logger.Level) -> Logger.MetadataValue {
        level <= .debug ? "\(address)" : "\(maskedEmail(address))"
    }
}
