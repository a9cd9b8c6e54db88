/// The messages and enums of the `auth.v1` proto package (proto/auth/v1), generated into
/// this namespace so that a wire type never shares its name with a domain type:
/// `AuthV1.User` is what travels, `AuthCore.User` what the server works with.
public enum AuthV1 {}
