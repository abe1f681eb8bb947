// swift-tools-version: 6.0
// An example of building on xlate from another package: translates .srt and .vtt subtitle files.
import PackageDescription

let package = Package(
    name: "SubtitleTranslator",
    products: [
        .executable(name: "subtitle-translator", targets: ["SubtitleTranslator"]),
    ],
    dependencies: [
        // Your own package would use .package(url: "https://…/xlate", from: "…") or the path of a checkout.
        .package(name: "xlate", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "SubtitleTranslator",
            dependencies: [.product(name: "Xlate", package: "xlate"), .product(name: "XlateDocuments", package: "xlate")]
        ),
    ]
)
