// swift-tools-version:6.1
// Ferry: a gRPC-Web gateway and sidecar proxy on libevent and nghttp2.
import PackageDescription

let strict: [SwiftSetting] = [
    // A section per function, so that the linker can lay out the hot ones together (`lean`).
    .unsafeFlags(["-warnings-as-errors", "-Xfrontend", "-function-sections"]),
    // Exclusivity is checked in debug builds (and so in every test run); release builds skip
    // the run-time checks, which cost ~2% of the hot path's time in access bookkeeping.
    // Cross-module optimization lets the optimizer see through the small cross-target calls of
    // the hot path (HeaderFields, the codecs): ~2.6% fewer instructions and retains per call.
    // Without type-layout lowering, an outlined copy or destroy of a concrete type is code for
    // that type; with it (the default), it looked the type's metadata up by mangled name and
    // called its value witness (destroying a nil `SimpleResponse?` took ~100 instructions).
    .unsafeFlags(
        ["-enforce-exclusivity=unchecked", "-cross-module-optimization", "-Xfrontend", "-disable-type-layout"],
        .when(configuration: .release)),
]
/// Fewer resident pages for `ferry` (idle RSS, issue 3): lld with packed relative relocations
/// (DT_RELR: ~8 KiB for the loader to read instead of ~1 MiB of .rela.dyn) and no dynamic
/// symbol table of every Swift symbol (~0.7 MiB; nothing loads symbols from the executable).
/// The functions a running gateway executes come first, together (Sources/ferry/hot-functions.txt,
/// from scripts/generate-hot-functions): the kernel maps code 64 KiB at a time per fault, so packed
/// they cost few resident pages once start-up's are released (issue 19).
let lean: [LinkerSetting] = [
    .unsafeFlags([
        "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/ferry/hot-functions.txt",
        "-Xlinker", "--no-warn-symbol-ordering",
    ])
]

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
        .executable(name: "node-service", targets: ["node-service"]),
        .executable(name: "transcode-bench", targets: ["transcode-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Without the default BinaryDelimitedStreams trait, which imports all of Foundation
        // (about 11 MiB resident) for stream APIs Ferry does not use.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.30.0", traits: ["FieldMaskUtilities"]),
    ],
    targets: [
        // C libraries (Debian's -dev packages) exposed to Swift.
        .systemLibrary(
            name: "CLibevent", pkgConfig: "libevent_core",
            providers: [.apt(["libevent-dev"])]),
        .systemLibrary(
            name: "CNghttp2", pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Pure value types: codecs and policies. No sockets, no clock; C only for parsing YAML.
        .target(name: "FerryCore", swiftSettings: strict),
        .target(name: "HTTP1", dependencies: ["FerryCore"], swiftSettings: strict),
        .target(name: "GRPCWeb", dependencies: ["FerryCore"], swiftSettings: strict),
        .target(name: "Routing", dependencies: ["FerryCore", "Resilience"], swiftSettings: strict),
        .target(name: "Config", dependencies: ["FerryCore", "Routing", "Resilience", "CYAML"], swiftSettings: strict),
        // REST/JSON ↔ gRPC transcoding (issue 4): google.api.http rules, descriptors, JSON.
        .target(
            name: "Transcode",
            dependencies: [
                "FerryCore", "GoogleAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),
        // gzip through zlib, bounded (issue 16).
        .target(name: "Gzip", dependencies: ["CZlib"], swiftSettings: strict),
        // JWT verification (issue 17): JWS parsing, JWK sets, signatures through OpenSSL, claims.
        .target(
            name: "OpenAPI", dependencies: ["Transcode", .product(name: "SwiftProtobuf", package: "swift-protobuf")], swiftSettings: strict),
        .target(name: "Auth", dependencies: ["FerryCore", "Transcode", "Resilience", "COpenSSL"], swiftSettings: strict),
        // Descriptors from a backend's server reflection (issue 18): the messages, which files to
        // ask for, the assembled set and its digest.
        .target(
            name: "Reflection",
            dependencies: ["FerryCore", "Transcode", "COpenSSL", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict),
        // The Connect protocol's codecs (issue 16): content types, envelopes, errors, GET queries.
        .target(name: "Connect", dependencies: ["FerryCore", "GRPCWeb", "Transcode", "Gzip"], swiftSettings: strict),
        // Generated from Protos/google/api (protoc-gen-swift, committed).
        .target(
            name: "GoogleAPI", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict),

        // I/O: the only code that touches libevent and nghttp2.
        .target(name: "Loop", dependencies: ["CLibevent", "COpenSSL"], swiftSettings: strict),
        .target(name: "HTTP2Support", dependencies: ["FerryCore", "Loop", "CNghttp2"], swiftSettings: strict),
        // The access log and W3C trace context (issue 6).
        .target(name: "Observability", dependencies: ["FerryCore"], swiftSettings: strict),
        // Retry, throttle, breaker, outlier and endpoint-choice policies (issue 5): pure state machines.
        .target(name: "Resilience", dependencies: ["FerryCore"], swiftSettings: strict),
        .target(
            name: "Upstream",
            dependencies: [
                "FerryCore", "Resilience", "Loop", "HTTP2Support", "CNghttp2",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The admin listener (issue 6): /metrics, /ready, /healthz, /config, /clusters, /reload.
        .target(name: "Admin", dependencies: ["FerryCore", "HTTP1", "Loop"], swiftSettings: strict),
        .target(
            name: "Front",
            dependencies: [
                "FerryCore", "HTTP1", "GRPCWeb", "Connect", "Gzip", "Auth", "OpenAPI", "Reflection", "Routing", "Config", "Transcode",
                "Resilience",
                "Observability", "Admin",
                "Loop", "Upstream", "HTTP2Support", "CNghttp2",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The bundled NodeService backend (demo and benchmarks).
        .target(
            name: "GRPCServer",
            dependencies: [
                "FerryCore", "GRPCWeb", "Transcode", "Loop", "HTTP2Support", "CNghttp2",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "NodeProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: strict),
        .target(
            name: "NodeService",
            dependencies: [
                "GRPCServer", "NodeProto", "FerryCore", "Loop", "Reflection",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .executableTarget(
            name: "ferry",
            dependencies: [
                "Front", "Config", "NodeService", "FerryCore", "Transcode", "Loop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ], exclude: ["hot-functions.txt"], swiftSettings: strict, linkerSettings: lean),
        .executableTarget(
            name: "node-service",
            dependencies: [
                "NodeService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),

        .target(name: "TestSupport", dependencies: ["FerryCore"], path: "Tests/TestSupport"),
        // Fuzz targets of the parsers (issue 14): libFuzzer runs them through ferry-fuzz
        // (scripts/fuzz); FuzzRegressionTests replays their corpus and past crashes.
        .target(
            name: "FuzzTargets", dependencies: ["HTTP1", "GRPCWeb", "Transcode", "Config", "Connect", "Auth", "FerryCore"],
            path: "Tests/Fuzz/FuzzTargets",
            swiftSettings: strict),
        .systemLibrary(name: "CLibFuzzer", path: "Tests/Fuzz/CLibFuzzer"),
        .executableTarget(
            name: "ferry-fuzz", dependencies: ["FuzzTargets", "CLibFuzzer"], path: "Tests/Fuzz/ferry-fuzz",
            swiftSettings: strict),
        // bench/transcode: the JSON transcoder against SwiftProtobuf's generated code.
        .executableTarget(
            name: "transcode-bench",
            dependencies: [
                "Transcode", "NodeProto", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ], path: "bench/transcode-bench", swiftSettings: strict),

        .testTarget(name: "FerryCoreTests", dependencies: ["FerryCore", "TestSupport"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1", "TestSupport"]),
        .testTarget(name: "GRPCWebTests", dependencies: ["GRPCWeb"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip"]),
        .testTarget(name: "OpenAPITests", dependencies: ["OpenAPI", "Transcode", "FerryCore", "NodeService"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth", "Transcode", "FerryCore"]),
        .testTarget(
            name: "ReflectionTests",
            dependencies: ["Reflection", "Transcode", "NodeService", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "ConnectTests", dependencies: ["Connect", "FerryCore", "GRPCWeb", "Transcode", "Gzip", "NodeService"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Routing", "Resilience"]),
        .testTarget(name: "ResilienceTests", dependencies: ["Resilience", "FerryCore", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", "TestSupport"]),
        .testTarget(name: "AdminTests", dependencies: ["Admin"]),
        .testTarget(name: "HTTP2SupportTests", dependencies: ["HTTP2Support", "CNghttp2"]),
        .testTarget(name: "LoopTests", dependencies: ["Loop"]),
        .testTarget(name: "UpstreamTests", dependencies: ["Upstream", "FerryCore", "Loop"]),
        .testTarget(
            name: "FrontTests",
            dependencies: [
                "Front", "FerryCore", "GRPCWeb", "HTTP1", "Upstream", "Routing", "Config",
                "Transcode", "NodeService", "Connect", "Gzip",
            ]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TestSupport"]),
        .testTarget(
            name: "TranscodeTests",
            dependencies: [
                "Transcode", "FerryCore", "GoogleAPI", "NodeProto", "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
