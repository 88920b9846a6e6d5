// swift-tools-version:6.0
// Lorikeet's libFuzzer targets: one executable per parser of user files, kept out of the main
// package's build. Build and run them with scripts/fuzz.sh (swift build -c release
// -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library); see Fuzz/README.md.
// SwiftPM links an executable's `main` to `<Target>_main`, so each target defines that symbol
// and hands over to libFuzzer's LLVMFuzzerRunDriver (FuzzSupport's Fuzz.run).
import PackageDescription

let targets = [
    "FuzzGGUF", "FuzzSafetensors", "FuzzTokenizerJSON", "FuzzGGUFTokenizer", "FuzzChatTemplate",
    "FuzzDatasetRecord", "FuzzTrainingSettings", "FuzzPEFTAdapter", "FuzzGGUFAdapter",
    "FuzzMLXAdapter", "FuzzBnBQuantState", "FuzzHFConfig",
]

let package = Package(
    name: "LorikeetFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Lorikeet", path: "../..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", .product(name: "Lorikeet", package: "Lorikeet")]),
    ] + targets.map { name in
        .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: "Lorikeet", package: "Lorikeet")])
    }
)
