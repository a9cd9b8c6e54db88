// Public imports: a conformance of a public type is public, so GRDB is part of this file's interface.
public import AuthCore
public import GRDB

// Domain enums stored by their raw value, so that no SQL literal spells a state or kind.
extension TemplateKind: DatabaseValueConvertible {}
extension OutboxState: DatabaseValueConvertible {}
extension KeyScope: DatabaseValueConvertible {}
extension PageAccess: DatabaseValueConvertible {}
extension CodePurpose: DatabaseValueConvertible {}
extension Settings.Key: DatabaseValueConvertible {}

/// Stored as INTEGER milliseconds since the Unix epoch.
extension Timestamp: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        milliseconds.databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> Timestamp? {
        Int64.fromDatabaseValue(dbValue).map(Timestamp.init(milliseconds:))
    }
}

/// Stored as its TEXT UUID.
extension UserID: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        rawValue.databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> UserID? {
        String.fromDatabaseValue(dbValue).map(UserID.init(rawValue:))
    }
}

extension ThrottleKey: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        description.databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> ThrottleKey? {
        guard let text = String.fromDatabaseValue(dbValue) else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let kind = parts.first.flatMap({ Kind(rawValue: String($0)) }) else { return nil }
        return ThrottleKey(kind, parts.count > 1 ? String(parts[1]) : "")
    }
}
