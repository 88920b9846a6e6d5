// swift-tools-version:6.0
// Lorikeet: fine-tune Llama-family models on the CPU, in Swift.
import PackageDescription

// Release builds default to plain SSE2 on x86-64: no AVX2, FMA or F16C, which makes
// SIMD `addingProduct` a library call per lane and Float16 conversion a call per element.
// Package.swift is compiled for the host, so `#if arch` picks the flags for native builds.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
let cpuCFlags: [CSetting] = [.unsafeFlags(["-march=x86-64-v3"])]
#else
let cpuFlags: [SwiftSetting] = []
let cpuCFlags: [CSetting] = []
#endif

let blasDependency: Target.Dependency = .target(name: "CBLAS", condition: .when(platforms: [.linux, .android]))

let package = Package(
    name: "Lorikeet",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Lorikeet", targets: ["Lorikeet"]),
        .executable(name: "lorikeet", targets: ["LorikeetCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // `swift package generate-documentation --target Lorikeet` (a plugin: built only when used).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: nil,
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "TensorCore", dependencies: [blasDependency],
                swiftSettings: cpuFlags,
                linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]),
        .target(name: "Quantization", dependencies: ["TensorCore"], swiftSettings: cpuFlags),
        .target(name: "ModelFormats", dependencies: ["TensorCore", "Quantization"], swiftSettings: cpuFlags),
        .target(name: "Tokenizers", swiftSettings: cpuFlags),
        .target(name: "ChatTemplates", swiftSettings: cpuFlags),
        .target(name: "Llama", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates"],
                swiftSettings: cpuFlags),
        .target(name: "FineTuning", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "Llama",
                                                   .product(name: "Yams", package: "Yams")],
                swiftSettings: cpuFlags),
        // `import Lorikeet`: every public module at once.
        .target(name: "Lorikeet", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "Llama", "FineTuning"]),
        // The `lorikeet` command (the only code that prints); the executable product keeps that name.
        .executableTarget(name: "LorikeetCLI", dependencies: [
            "TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "Llama", "FineTuning",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: cpuFlags),
        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport",
                swiftSettings: cpuFlags),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"],
                    swiftSettings: cpuFlags),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "ModelFormats", "Quantization", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "FineTuningTests", dependencies: ["FineTuning", "Llama", "ModelFormats", "Quantization", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "LorikeetCLITests", dependencies: ["LorikeetCLI", "FineTuning", "Llama", "ModelFormats", "TensorCore"],
                    swiftSettings: cpuFlags),
        .testTarget(name: "ChatTemplatesTests", dependencies: ["ChatTemplates", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
    ]
)
