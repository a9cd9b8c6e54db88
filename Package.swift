// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "authd",
    // Linux only (Debian 12 and the Swift 6 toolchain): the server and the tools call Glibc
    // and Linux interfaces (epoll through NIO, umask, /proc) directly. No Apple platform is
    // declared because none is built or tested.
    products: [
        .library(name: "AuthClient", targets: ["AuthClient"]),
        // For Benchmarks/ (micro-benchmarks of the wire code); not an API for applications.
        .library(name: "AuthBenchSupport", targets: ["AuthWire", "AuthRPC", "AuthCrypto"]),
        .executable(name: "authd", targets: ["authd"]),
        .executable(name: "authbench", targets: ["authbench"]),
        .executable(name: "authctl", targets: ["authctl"]),
        .executable(name: "auth-mailer", targets: ["auth-mailer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // JSON files (a default trait) and command-line flags; no YAML, so no Yams.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "CommandLineArguments"]),
        // FilePath, which FileProvider takes (swift-configuration depends on it already).
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        // The PostgreSQL store, for several instances on one database.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // System libraries, installed by `make deps` (apt).
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // protoc-c output for proto/ (generated, committed; `make generate`).
        .target(
            name: "CAuthProto",
            dependencies: ["CProtobufC"]
        ),
        // Swift value types over the protoc-c structs (generated) and their runtime.
        .target(
            name: "AuthWire",
            dependencies: ["CAuthProto", "CProtobufC"],
            swiftSettings: swiftSettings
        ),
        // Calendar dates from epoch milliseconds, shared by the CSV export (AuthCore) and
        // authctl's output, which does not depend on AuthCore.
        .target(name: "AuthTime", swiftSettings: swiftSettings),
        // What logs may show (masked addresses) and how lines are written (text or JSON),
        // shared by the server and the mailer.
        .target(
            name: "AuthLogging",
            dependencies: ["AuthTime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Framed RPC over TCP: codec, server, multiplexed client connection. Knows no service.
        .target(
            name: "AuthRPC",
            dependencies: [
                "AuthWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Settings from flags, environment and a JSON file (swift-configuration), described
        // once as a schema that also renders --help, --print-config and docs/configuration.md.
        .target(
            name: "AuthConfig",
            dependencies: [
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        // Generated service glue: method descriptors, handler protocols, typed client stubs.
        .target(
            name: "AuthAPI",
            dependencies: ["AuthWire", "AuthRPC"],
            swiftSettings: swiftSettings
        ),
        // OpenSSL: scrypt password hashes, SHA-256, CSPRNG, constant-time comparison.
        // scrypt's memory-hard core over a buffer kept per hashing thread (C, no dependencies).
        // Optimised in debug builds too: the tests hash thousands of passwords, and at -O0
        // ROMix is five times slower.
        .target(name: "CScrypt", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "AuthCrypto",
            dependencies: [
                "COpenSSL",
                "CScrypt",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain: users, sessions, codes, roles, groups; the flows; the storage protocol.
        // Knows neither the wire nor SQL.
        .target(
            name: "AuthCore",
            dependencies: [
                "AuthCrypto", "AuthLogging", "AuthTime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SQLite implementation of AuthCore's storage protocol (GRDB, WAL, migrations).
        .target(
            name: "AuthStore",
            dependencies: [
                "AuthCore", "AuthCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL implementation of the same storage roles (postgres-nio), for several
        // authd instances on one database.
        .target(
            name: "AuthPostgres",
            dependencies: [
                "AuthCore", "AuthCrypto",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift client module applications import.
        .target(
            name: "AuthClient",
            dependencies: ["AuthAPI", "AuthRPC", "AuthWire"],
            swiftSettings: swiftSettings
        ),
        // The version and git commit of this build, stamped by the plugin below; every
        // executable's --version shows them.
        .target(
            name: "AuthdVersion",
            swiftSettings: swiftSettings,
            plugins: ["AuthdVersionPlugin"]
        ),
        .plugin(name: "AuthdVersionPlugin", capability: .buildTool()),
        // The management HTTP port (Hummingbird): /healthz, /readyz, Prometheus /metrics.
        // Knows no service: it is given its checks and its metrics registry.
        .target(
            name: "AuthManagement",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server: service implementations wired onto the RPC router.
        .target(
            name: "AuthServer",
            dependencies: [
                "AuthAPI", "AuthRPC", "AuthWire", "AuthCore", "AuthStore", "AuthPostgres", "AuthCrypto", "AuthManagement",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "authd",
            dependencies: [
                "AuthServer", "AuthLogging", "AuthManagement", "AuthdVersion", "AuthConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The mail worker: leases from the Mail service, sends through SMTP (libcurl) or to files.
        .target(
            name: "AuthMailer",
            dependencies: [
                "AuthClient", "AuthLogging", "CCurl",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "auth-mailer",
            dependencies: [
                "AuthMailer", "AuthLogging", "AuthdVersion", "AuthConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The operator's CLI over the Admin service.
        .executableTarget(
            name: "authctl",
            dependencies: [
                "AuthClient", "AuthdVersion", "AuthTime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "authbench",
            dependencies: [
                "AuthClient", "AuthCrypto", "AuthdVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The README's "Calling it from Swift" snippet, byte for byte (the README test checks),
        // so that the snippet compiles with every build.
        .executableTarget(
            name: "authd-quickstart",
            dependencies: ["AuthClient"],
            path: "Examples/Quickstart",
            swiftSettings: swiftSettings
        ),
        // Test support (as NIOTestUtils, HummingbirdTesting): a manual clock, cheap scrypt, a real
        // authd on a free port and stores over fresh files, each torn down by a `with…` helper.
        // Only test targets depend on it.
        .target(
            name: "AuthdTesting",
            dependencies: [
                "AuthServer", "AuthClient", "AuthCore", "AuthStore", "AuthPostgres", "AuthCrypto", "AuthManagement",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AuthWireTests", dependencies: ["AuthWire"], swiftSettings: swiftSettings),
        // COpenSSL: the tests hold scrypt to OpenSSL's own EVP_PBE_scrypt.
        .testTarget(name: "AuthCryptoTests", dependencies: ["AuthCrypto", "AuthdTesting", "COpenSSL"], swiftSettings: swiftSettings),
        .testTarget(name: "AuthCoreTests", dependencies: ["AuthCore", "AuthTime", "AuthdTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "AuthMailerTests", dependencies: ["AuthMailer"], swiftSettings: swiftSettings),
        .testTarget(name: "AuthConfigTests", dependencies: ["AuthConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AuthStoreTests",
            dependencies: [
                "AuthStore", "AuthPostgres", "AuthCore", "AuthdTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthRPCTests",
            dependencies: [
                "AuthRPC", "AuthWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthServerTests",
            dependencies: [
                "AuthServer", "AuthClient", "AuthCore", "AuthStore", "AuthCrypto", "AuthdTesting", "AuthLogging", "AuthRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
