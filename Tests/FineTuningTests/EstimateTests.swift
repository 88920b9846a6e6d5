// The memory estimator: named shapes give the published parameter totals, phases add up,
// the estimate moves the right way with each knob, and the formula stays within the band of
// peak RSS measured with `lorikeet bench train` on SmolLM2-135M (constants below; no timing).
import XCTest
import Llama
@testable import FineTuning

final class EstimateTests: XCTestCase {
    // MARK: Named configurations

    func testNamedConfigurationsGivePublishedParameterCounts() throws {
        // Totals as published on the Hugging Face model cards / safetensors metadata.
        let published: [String: Int] = [
            "smollm2-135m": 134_515_008, "smollm2-360m": 361_821_120, "smollm2-1.7b": 1_711_376_384,
            "tinyllama-1.1b": 1_100_048_384, "llama-2-7b": 6_738_415_616, "llama-2-13b": 13_015_864_320,
            "llama-3-8b": 8_030_261_248, "llama-3.1-8b": 8_030_261_248, "llama-3.2-1b": 1_235_814_400,
            "llama-3.2-3b": 3_212_749_824, "mistral-7b": 7_241_732_096, "qwen2.5-0.5b": 494_032_768,
            "qwen2.5-1.5b": 1_543_714_304, "qwen2.5-7b": 7_615_616_512,
            // transformers' count for google/gemma-3-270m (also the GGUF's tensors, see GemmaGGUFTests).
            "gemma3-270m": 268_098_176,
            // microsoft/Phi-3-mini-4k-instruct's safetensors total (fused qkv_proj / gate_up_proj, untied head).
            "phi-3-mini": 3_821_079_552,
            "gemma2-2b": 2_614_341_888,
        ]
        // Qwen3 and SmolLM3: the model cards give rounded figures — Qwen3's "Number of Parameters
        // (Non-Embedding)" 0.44B, 1.4B, 3.6B, 6.95B and SmolLM3's 3.08B in all (tied).
        let rounded: [String: (nonEmbedding: Double, tolerance: Double)] = [
            "qwen3-0.6b": (0.44e9, 0.005e9), "qwen3-1.7b": (1.4e9, 0.05e9), "qwen3-4b": (3.6e9, 0.05e9), "qwen3-8b": (6.95e9, 0.005e9),
        ]
        for (name, want) in rounded {
            let c = try NamedConfigurations.configuration(named: name)
            let embeddings = c.vocabularySize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2)
            XCTAssertEqual(Double(c.parameterCount - embeddings), want.nonEmbedding, accuracy: want.tolerance, name)
        }
        XCTAssertEqual(Double(try NamedConfigurations.configuration(named: "smollm3-3b").parameterCount), 3.08e9, accuracy: 0.005e9)
        XCTAssertEqual(Double(try NamedConfigurations.configuration(named: "gemma3-1b").parameterCount), 1.0e9, accuracy: 0.005e9)
        XCTAssertEqual(Double(try NamedConfigurations.configuration(named: "phi-4-mini").parameterCount), 3.84e9, accuracy: 0.005e9)
        XCTAssertEqual(Set(NamedConfigurations.names),
                       Set(published.keys).union(rounded.keys).union(["smollm3-3b", "gemma3-1b", "phi-4-mini"]))
        for name in NamedConfigurations.names where published[name] != nil {
            let c = try NamedConfigurations.configuration(named: name)
            XCTAssertNoThrow(try c.validate(source: name))
            XCTAssertEqual(c.parameterCount, published[name], name)
        }
    }

    func testNamedConfigurationDetails() throws {
        let qwen = try NamedConfigurations.configuration(named: "Qwen2.5_0.5B")  // case and _ tolerated
        XCTAssertTrue(qwen.attentionBias)
        XCTAssertTrue(qwen.tieWordEmbeddings)
        XCTAssertEqual(qwen.modelType, "qwen2")
        let l31 = try NamedConfigurations.configuration(named: "llama-3.1-8b")
        XCTAssertEqual(l31.ropeScaling, .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 8192))
        XCTAssertEqual(try NamedConfigurations.configuration(named: "llama-3.2-3b").headDim, 128)
        XCTAssertEqual(try NamedConfigurations.configuration(named: "llama-3-8b").ropeTheta, 500_000)
    }

    func testUnknownNameListsTheKnownOnes() {
        XCTAssertThrowsError(try NamedConfigurations.configuration(named: "gpt-2")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("gpt-2"))
            XCTAssertTrue(text.contains("llama-3-8b") && text.contains("smollm2-135m"), text)
        }
    }

    // MARK: Structure and monotonicity

    private let smol = try! NamedConfigurations.configuration(named: "smollm2-135m")
    private let allLinear = LoRAConfiguration(rank: 16, alpha: 32, targets: ["all-linear"])

    func testPhasesAddUpAndTotalIsTheLargestPhase() throws {
        for (method, storage) in [(FineTuningMethod.full, BaseStorage.bf16), (.lora, .bf16), (.qlora(.nf4), .bf16),
                                  (.qlora(.keep), .gguf(bitsPerWeight: 4.5))] {
            let e = MemoryEstimator.estimate(configuration: smol, method: method, lora: allLinear, batchSize: 4,
                                             sequenceLength: 256, baseStorage: storage)
            for phase in e.phases {
                XCTAssertEqual(phase.bytes, phase.parts.values.reduce(0, +))
                XCTAssertTrue(phase.parts.values.allSatisfy { $0 >= 0 })
            }
            XCTAssertEqual(e.total, e.phases.map(\.bytes).max())
            let componentSum = e.components.reduce(0) { $0 + $1.bytes }
            XCTAssertGreaterThanOrEqual(componentSum, e.total)
            XCTAssertEqual(e.components.map(\.component), MemoryComponent.allCases)
            for (c, bytes) in e.components { XCTAssertEqual(bytes, e.bytes(c)) }
        }
    }

    func testComponentSizesFollowTheShapes() {
        let e = MemoryEstimator.estimate(configuration: smol, method: .lora, lora: allLinear, batchSize: 4,
                                         sequenceLength: 256, baseStorage: .gguf(bitsPerWeight: 5.85))
        XCTAssertEqual(e.trainableParameters, 4_884_480)  // PEFT's count for r 16, all-linear
        XCTAssertEqual(e.bytes(.adapters), 4_884_480 * 4)
        XCTAssertEqual(e.bytes(.gradients), 4_884_480 * 4)
        XCTAssertEqual(e.bytes(.optimizerState), 4_884_480 * 8)
        XCTAssertEqual(e.bytes(.baseWeights), 134_515_008 * 4)  // a GGUF is dequantized to f32
        let full = MemoryEstimator.estimate(configuration: smol, method: .full, batchSize: 4, sequenceLength: 256,
                                            baseStorage: .bf16, optimizer: .adamw8bit)
        XCTAssertEqual(full.trainableParameters, smol.parameterCount)
        XCTAssertEqual(full.bytes(.gradients), smol.parameterCount * 4)
        XCTAssertLessThan(full.bytes(.optimizerState), smol.parameterCount * 3)
        XCTAssertEqual(full.bytes(.widenScratch), 0)
    }

    func testCheckpointingLowersActivationsAndTheTotal() {
        for method in [FineTuningMethod.full, .lora, .qlora(.nf4)] {
            let plain = MemoryEstimator.estimate(configuration: smol, method: method, lora: allLinear, batchSize: 4,
                                                 sequenceLength: 512, gradientCheckpointing: false)
            let ckpt = MemoryEstimator.estimate(configuration: smol, method: method, lora: allLinear, batchSize: 4,
                                                sequenceLength: 512, gradientCheckpointing: true)
            XCTAssertLessThan(ckpt.bytes(.activations), plain.bytes(.activations) / 4, method.name)
            XCTAssertLessThanOrEqual(ckpt.total, plain.total, method.name)
        }
    }

    func testQLoRABelowLoRABelowFull() throws {
        for name in ["smollm2-135m", "llama-2-7b", "llama-3-8b", "qwen2.5-0.5b"] {
            let c = try NamedConfigurations.configuration(named: name)
            for storage in [BaseStorage.bf16, .f32, .gguf(bitsPerWeight: 4.5)] {
                func estimate(_ m: FineTuningMethod) -> MemoryEstimate {
                    MemoryEstimator.estimate(configuration: c, method: m, lora: allLinear, batchSize: 1, sequenceLength: 512,
                                             gradientCheckpointing: true, baseStorage: storage)
                }
                let (q, l, f) = (estimate(.qlora(.nf4)), estimate(.lora), estimate(.full))
                XCTAssertLessThan(q.required, l.required, name)
                XCTAssertLessThan(l.required, f.required, name)
                XCTAssertLessThan(l.total, f.total, name)
                // The re-encoded linears' source pages are released at load, so QLoRA's peak RSS is
                // below LoRA's for every base (a GGUF's, a bf16 or an f32 folder's).
                XCTAssertLessThan(q.total, l.total, "\(name) \(storage)")
            }
        }
    }

    func testGradientAccumulationKeepsEveryGradientThroughBackward() {
        let one = MemoryEstimator.estimate(configuration: smol, method: .full, batchSize: 4, sequenceLength: 256)
        let four = MemoryEstimator.estimate(configuration: smol, method: .full, batchSize: 4, sequenceLength: 256,
                                            gradientAccumulation: 4)
        let fb = { (e: MemoryEstimate) in e.phases.first { $0.name == "forward/backward" }! }
        XCTAssertEqual(fb(four).parts[.gradients], smol.parameterCount * 4)
        XCTAssertLessThan(fb(one).parts[.gradients]!, smol.parameterCount * 4)
        XCTAssertGreaterThan(four.total, one.total)
    }

    func testMoreTokensNeverCostLess() {
        var last = 0
        for (b, t) in [(1, 128), (1, 256), (2, 256), (4, 256), (4, 512), (8, 1024)] {
            let e = MemoryEstimator.estimate(configuration: smol, method: .lora, lora: allLinear, batchSize: b, sequenceLength: t)
            XCTAssertGreaterThanOrEqual(e.bytes(.activations), last)
            last = e.bytes(.activations)
        }
    }

    func testFourBitSize() {
        XCTAssertEqual(FineTuningMethod.fourBitBitsPerWeight(blockSize: 64, doubleQuant: true), 4.127, accuracy: 0.001)
        XCTAssertEqual(FineTuningMethod.fourBitBitsPerWeight(blockSize: 64, doubleQuant: false), 4.5, accuracy: 1e-9)
    }

    func testSevenBillionQLoRAIsPlausible() throws {
        // Llama-2-7B QLoRA (r 16, q/v) from bf16 safetensors, 1 × 512 with checkpointing: every
        // decoder linear (6.48 B weights) in NF4 is ~3.34 GB; of the mapped bf16 file (13.5 GB) only
        // the embeddings, head and norms stay (the linears' pages are released once re-encoded);
        // the head (524 MB in f32) and the largest linear (180 MB) are widened a 128 MiB slab at a time.
        let c = try NamedConfigurations.configuration(named: "llama-2-7b")
        let e = MemoryEstimator.estimate(configuration: c, method: .qlora(.nf4), lora: LoRAConfiguration(rank: 16, alpha: 32),
                                         batchSize: 1, sequenceLength: 512, gradientCheckpointing: true, baseStorage: .bf16)
        let gb = 1e9
        XCTAssertEqual(Double(e.bytes(.baseWeights)) / gb, 3.34, accuracy: 0.02)
        XCTAssertEqual(Double(e.bytesAtPeak(.mappedFile)) / gb, 13.48 - 12.96, accuracy: 0.05)  // the file less the linears' bf16 pages
        XCTAssertEqual(e.bytesAtPeak(.coldMappedFile), 0)
        XCTAssertEqual(e.bytes(.widenScratch), 128 << 20)
        XCTAssertLessThan(Double(e.required) / gb, 6)
        XCTAssertLessThan(Double(e.total) / gb, 7)
    }

    // MARK: Calibration against measured peak RSS

    /// Peak RSS (VmHWM, bytes) measured on this project's 2-core x86-64 machine, 2026-12-01, with
    /// `lorikeet bench train --model cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --steps 1 --json`
    /// (r 16, alpha 32, all-linear for LoRA), which since then steps through TrainingRun/Trainer as
    /// `lorikeet train` does; and, on 2026-11-22 at commit c9f00fa, one `lorikeet train --method full
    /// --packing --max-seq-length 128 --batch-size 2 --max-steps 3` on examples/veloria.
    private let measured: [(method: FineTuningMethod, seq: Int, batch: Int, checkpointing: Bool, bytes: Int)] = [
        (.lora, 256, 4, false, 1_879_162_880),
        (.lora, 256, 4, true, 952_672_256),
        (.full, 256, 4, false, 3_410_579_456),
        (.lora, 512, 2, false, 1_879_306_240),
        (.full, 128, 2, false, 2_663_641_088),
        (.full, 128, 2, false, 2_556_755_968),  // lorikeet train, packed
        (.qlora(.keep), 256, 4, false, 1_466_851_328),
        (.qlora(.keep), 256, 4, true, 538_726_400),
    ]

    func testSmolLM2EstimatesStayWithinTheCalibratedBand() {
        let fileBits = 98_362_432.0 * 8 / Double(smol.parameterCount)  // the Q4_1 GGUF's size
        for m in measured {
            let e = MemoryEstimator.estimate(configuration: smol, method: m.method, lora: allLinear, batchSize: m.batch,
                                             sequenceLength: m.seq, gradientCheckpointing: m.checkpointing,
                                             baseStorage: .gguf(bitsPerWeight: fileBits))
            let error = Double(e.total - m.bytes) / Double(m.bytes)
            // The issue asks for ±15 %; the formula was within ±6 % when recorded.
            XCTAssertLessThan(abs(error), 0.08, "\(m.method.name) \(m.seq)×\(m.batch) ckpt \(m.checkpointing): \(e.total) vs \(m.bytes)")
        }
    }

    func testOtherShapesStayWithinTheCalibratedBand() throws {
        // Peak RSS of `lorikeet bench train --init random --model NAME --steps 1 --json` (seeded f32
        // weights built in memory, no file, no tokenizer), same machine, 2026-12-01.
        let runs: [(name: String, method: FineTuningMethod, seq: Int, batch: Int, checkpointing: Bool, bytes: Int)] = [
            ("qwen2.5-0.5b", .lora, 128, 2, false, 2_833_489_920),
            ("qwen2.5-0.5b", .full, 128, 1, false, 8_262_356_992),
            ("llama-3.2-1b", .lora, 256, 1, true, 5_436_895_232),
        ]
        for r in runs {
            let e = MemoryEstimator.estimate(configuration: try NamedConfigurations.configuration(named: r.name), method: r.method,
                                             lora: allLinear, batchSize: r.batch, sequenceLength: r.seq,
                                             gradientCheckpointing: r.checkpointing, baseStorage: .ownedF32)
            let error = Double(e.total - r.bytes) / Double(r.bytes)
            XCTAssertLessThan(abs(error), 0.08, "\(r.name) \(r.method.name): \(e.total) vs \(r.bytes)")
        }
    }
}
