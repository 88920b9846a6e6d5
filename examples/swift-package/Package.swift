// swift-tools-version:6.0
// An app of your own that fine-tunes with Lorikeet: depends on the package by path here;
// from elsewhere use .package(url: "https://github.com/<owner>/lorikeet", from: "<version>").
import PackageDescription

let package = Package(
    name: "FineTuneExample",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Lorikeet", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "FineTuneExample", dependencies: [.product(name: "Lorikeet", package: "Lorikeet")]),
    ]
)
