// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "xlate",
    products: [
        .library(name: "Xlate", targets: ["Xlate"]),
        .library(name: "XlateHub", targets: ["XlateHub"]),
        .library(name: "XlateServer", targets: ["XlateServer"]),
        .executable(name: "xlate", targets: ["xlate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target Xlate` (the DocC catalog in Sources/Xlate/Xlate.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // `xlate serve` (XlateServer only: the Xlate library depends on none of these).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: C

        /// `extern "C"` shim over the C++ libsentencepiece (Debian: libsentencepiece-dev).
        .target(
            name: "CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece")]
        ),

        /// Vectorised float kernels (softmax, dot, SiLU) compiled for AVX-512 / AVX2 / baseline, chosen at load time.
        .target(name: "CKernels"),

        // MARK: Engine layers (one-way: Xlate → XlateDecode → XlateModel → XlateCore)

        /// Tensors, kernels, BLAS (OpenBLAS loaded at run time with the right kernel), half-float conversion.
        .target(
            name: "XlateCore",
            dependencies: ["CKernels"],
            linkerSettings: [.linkedLibrary("dl")]
        ),
        /// Checkpoints, configs, tokenizers, layers and architectures.
        .target(name: "XlateModel", dependencies: ["XlateCore", "CSentencePiece"]),
        /// Search strategies, logits processors, decoding options.
        .target(name: "XlateDecode", dependencies: ["XlateModel"]),
        /// Public facade: Translator, options, results, model resolution.
        .target(name: "Xlate", dependencies: ["XlateDecode"]),

        // MARK: Downloads (apart, so that a library user who only translates does not link libcurl)

        /// The Hugging Face Hub client over URLSession (FoundationNetworking, which links libcurl).
        .target(name: "XlateHub", dependencies: ["Xlate"]),

        // MARK: Server (apart, so that a library user who only translates links no HTTP server)

        /// `xlate serve`: the LibreTranslate-compatible API, the native API, metrics and the translate page, over
        /// Hummingbird; requests are batched by the library's `TranslationService`.
        .target(
            name: "XlateServer",
            dependencies: [
                "Xlate",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Command line

        .executableTarget(
            name: "xlate",
            dependencies: [
                "Xlate", "XlateHub", "XlateServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests

        .testTarget(name: "XlateCoreTests", dependencies: ["XlateCore"]),
        .testTarget(name: "XlateModelTests", dependencies: ["XlateModel"]),
        .testTarget(name: "XlateDecodeTests", dependencies: ["XlateDecode"]),
        .testTarget(name: "XlateTests", dependencies: ["Xlate"]),
        .testTarget(name: "XlateHubTests", dependencies: ["XlateHub"]),
        .testTarget(name: "CLITests", dependencies: ["xlate"]),
        /// `xlate serve` as a process, driven over HTTP (URLSession) and by the real libretranslatepy client.
        .testTarget(name: "ServerTests", dependencies: ["xlate"]),
    ]
)
