// swift-tools-version: 6.1
// authd's benchmarks, kept out of the main package so that its build stays lean:
// the peer harness (`make bench-peers`) and the micro-benchmarks (`make bench-micro`).
// See README.md beside this file and docs/benchmarks.md.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name (main, wt-bench, a CI clone's folder):
// work it out instead of assuming one.
let authd = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "authd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Length-prefixed framing and the few protobuf fields the harness writes and reads,
        // by hand: the load client shares the cores with the server, so it must cost little,
        // and it is independent of authd's own wire code.
        .target(
            name: "PeerWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // swift-protobuf and grpc-swift-2 code for proto/auth/v1/{common,auth}.proto,
        // generated once (proto/generate.sh) and committed.
        .target(
            name: "AuthV1GRPC",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        // The bare SwiftNIO echo of authd's framing: the ceiling every stack is compared with.
        .executableTarget(
            name: "bench-echo-server",
            dependencies: [
                "PeerWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The same GetMe over grpc-swift-2 (HTTP/2, in-memory token map).
        .executableTarget(
            name: "bench-grpc-server",
            dependencies: [
                "AuthV1GRPC",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Starts the servers, sets authd up through its Admin and Auth APIs, drives every
        // stack with the same closed-loop load and prints the table.
        .executableTarget(
            name: "peerbench",
            dependencies: [
                "PeerWire", "AuthV1GRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // ordo-one/benchmark micro-benchmarks of authd's own wire code (`make bench-micro`).
        .executableTarget(
            name: "WireMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AuthBenchSupport", package: authd),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/WireMicro",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
