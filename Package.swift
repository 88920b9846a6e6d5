// swift-tools-version:6.0
// Lorikeet: fine-tune Llama-family models on the CPU, in Swift.
import PackageDescription

// No unsafeFlags, so a dependent can pin Lorikeet by version. A release build then targets
// the architecture's baseline (SSE2 on x86-64); the hot kernels live in CKernels, compiled
// there once per instruction set with target attributes and picked at run time.

let blasDependency: Target.Dependency = .target(name: "CBLAS", condition: .when(platforms: [.linux, .android]))

let package = Package(
    name: "Lorikeet",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Lorikeet", targets: ["Lorikeet"]),
        // The OpenAI-compatible server (Hummingbird): its own product, so `import Lorikeet` does not pull in a web stack.
        .library(name: "LorikeetServer", targets: ["LorikeetServer"]),
        .executable(name: "lorikeet", targets: ["LorikeetCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        // `swift package generate-documentation --target Lorikeet` (a plugin: built only when used).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: nil,
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels"),
        // MPI loaded at run time (dlopen) for data-parallel training under mpirun; nothing to build against.
        .target(name: "CMPIShim", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "TensorCore", dependencies: [blasDependency, "CKernels"],
                linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]),
        .target(name: "Quantization", dependencies: ["TensorCore", "CKernels"]),
        .target(name: "ModelFormats", dependencies: ["TensorCore", "Quantization"]),
        .target(name: "Tokenizers"),
        .target(name: "ChatTemplates"),
        // Model references: `ollama:NAME[:TAG]` (the local Ollama store) and `hf:ORG/NAME` (the
        // Hugging Face cache, downloading through the hub's HTTP API). Foundation only.
        .target(name: "ModelStores"),
        .target(name: "Llama", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "ModelStores"]),
        .target(name: "FineTuning", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "Llama", "ModelStores", "CMPIShim",
                                                   .product(name: "Yams", package: "Yams")]),
        // `import Lorikeet`: every public module at once.
        .target(name: "Lorikeet", dependencies: ["TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "ModelStores",
                                                 "Llama", "FineTuning"]),
        // `lorikeet serve`: OpenAI's HTTP API, continuous batching across requests and adapters.
        .target(name: "LorikeetServer", dependencies: [
            "TensorCore", "Tokenizers", "ChatTemplates", "Llama", "FineTuning",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The `lorikeet` command (the only code that prints); the executable product keeps that name.
        .executableTarget(name: "LorikeetCLI", dependencies: [
            "TensorCore", "Quantization", "ModelFormats", "Tokenizers", "ChatTemplates", "ModelStores", "Llama", "FineTuning", "LorikeetServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "TestSupport", "CKernels"], exclude: ["Fixtures"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "TestSupport"], exclude: ["Fixtures"]),
        // ModelFormats and Llama only for the llama.cpp vocab parity test, which reads real GGUF files
        // the way a model load does (ModelLoader.tokenizerData).
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport", "ModelFormats", "Llama"], exclude: ["Fixtures"]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "ModelFormats", "Quantization", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "FineTuningTests", dependencies: ["FineTuning", "Llama", "ModelFormats", "Quantization", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LorikeetCLITests", dependencies: ["LorikeetCLI", "FineTuning", "Llama", "ModelFormats", "TensorCore"]),
        .testTarget(name: "LorikeetServerTests", dependencies: ["LorikeetServer", "Llama", "FineTuning", "TensorCore", "Tokenizers", "ModelFormats",
                                                            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "ModelStoresTests", dependencies: ["ModelStores", "Llama", "ModelFormats", "TensorCore", "TestSupport"]),
        .testTarget(name: "ChatTemplatesTests", dependencies: ["ChatTemplates", "TestSupport"], exclude: ["Fixtures"]),
    ]
)
