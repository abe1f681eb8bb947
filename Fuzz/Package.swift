// swift-tools-version: 6.0
// libFuzzer targets for the places where xlate reads bytes it did not write: safetensors headers, config files,
// vocab.json, legacy pytorch_model.bin, and text into the tokenizer. A separate package (depending on xlate by path)
// so that the main build never sees `-sanitize=fuzzer`. Build and run them with `make fuzz` (Fuzz/fuzz.sh); see
// Fuzz/README.md.
import PackageDescription

// Each fuzzer reaches xlate's internal parsers through `@testable import`, so xlate is built with -enable-testing
// (fuzz.sh passes it, with -sanitize=fuzzer,address and -parse-as-library: libFuzzer provides `main`).
let fuzzer: [Target.Dependency] = ["FuzzSupport", .product(name: "Xlate", package: "xlate")]

let package = Package(
    name: "XlateFuzz",
    dependencies: [
        .package(name: "xlate", path: ".."),
    ],
    targets: [
        /// Scratch files and invariant checks shared by the fuzzers.
        .target(name: "FuzzSupport"),
        /// Bytes → `SafeTensorsFile` (header validation), then every tensor read as float32.
        .executableTarget(name: "FuzzSafeTensors", dependencies: fuzzer),
        /// Bytes → `JSONValue`, and as config.json / generation_config.json → `ModelArchitecture`, `MarianConfig`,
        /// `T5Config`, `GenerationDefaults`.
        .executableTarget(name: "FuzzConfig", dependencies: fuzzer),
        /// Bytes → text → bundled en-de `MarianTokenizer` (and the T5 fixture's `T5Tokenizer`) encode → decode;
        /// bytes → id sequences → decode.
        .executableTarget(name: "FuzzTokenizer", dependencies: fuzzer),
        /// Bytes → `VocabularyJSON` (vocab.json's fast reader), checked against `JSONDecoder`.
        .executableTarget(name: "FuzzVocabulary", dependencies: fuzzer),
        /// Bytes as a `pytorch_model.bin` → `PyTorchCheckpoint` (zip, restricted unpickler, views) → safetensors.
        .executableTarget(name: "FuzzPyTorch", dependencies: fuzzer),
    ]
)
