// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "xlate",
    products: [
        .library(name: "Xlate", targets: ["Xlate"]),
        .library(name: "XlateHub", targets: ["XlateHub"]),
        .library(name: "XlateDocuments", targets: ["XlateDocuments"]),
        .executable(name: "xlate", targets: ["xlate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target Xlate` (the DocC catalog in Sources/Xlate/Xlate.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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

        // MARK: Documents (apart, so that a library user who translates plain text does not link libxml2 or cmark-gfm)

        /// libxml2's HTML parser (Debian: libxml2-dev).
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        /// cmark-gfm, the CommonMark reference parser with GitHub's table extension (Debian: libcmark-gfm-dev,
        /// libcmark-gfm-extensions-dev).
        .systemLibrary(
            name: "CCmarkGFM", pkgConfig: "libcmark-gfm",
            providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]),
        /// Markup in segments (HTML, Markdown) carried across by word alignment, placeholders for what must not be
        /// translated, and whole documents (HTML, Markdown, SRT, WebVTT).
        .target(name: "XlateDocuments", dependencies: ["Xlate", "CLibXML2", "CCmarkGFM"]),

        // MARK: Command line

        .executableTarget(
            name: "xlate",
            dependencies: ["Xlate", "XlateHub", "XlateDocuments", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: Tests

        .testTarget(name: "XlateCoreTests", dependencies: ["XlateCore"]),
        .testTarget(name: "XlateModelTests", dependencies: ["XlateModel"]),
        .testTarget(name: "XlateDecodeTests", dependencies: ["XlateDecode"]),
        .testTarget(name: "XlateTests", dependencies: ["Xlate"]),
        .testTarget(name: "XlateHubTests", dependencies: ["XlateHub"]),
        .testTarget(
            name: "XlateDocumentsTests", dependencies: ["XlateDocuments", "CLibXML2", "CCmarkGFM"], exclude: ["Documents"]),
        .testTarget(name: "CLITests", dependencies: ["xlate"]),
    ]
)
