import Foundation
import Models

/// A quantisation as a size: effective bits per weight over a whole model file, scales included.
public struct Quantization: Sendable, Equatable {
    public let name: String
    public let bitsPerWeight: Double

    /// The four `hearth fit` reports on. Effective bits per weight measured on Llama-3.1-8B by
    /// llama.cpp's quantize tool: k-quant mixes keep some tensors at higher precision, so Q4_K_M
    /// costs 4.89 bits, not 4.5; Q8_0's 8.5 is 32 one-byte weights plus a 2-byte scale per block.
    public static let common: [Quantization] = [
        Quantization(name: "Q4_K_M", bitsPerWeight: 4.8944),
        Quantization(name: "Q5_K_M", bitsPerWeight: 5.7036),
        Quantization(name: "Q8_0", bitsPerWeight: 8.5008),
        Quantization(name: "F16", bitsPerWeight: 16.0005),
    ]

    public static let source = "llama.cpp tools/quantize/README.md (Llama-3.1-8B: Q4_K_M 4.8944, Q5_K_M 5.7036, Q8_0 8.5008, F16 16.0005 bits/weight), https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md"

    public static func named(_ name: String) -> Quantization? {
        common.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }
}

/// Where a model would run: how much memory it may use and how fast that memory reads.
public struct Target: Sendable, Equatable {
    public let title: String
    public let totalMemoryBytes: Double
    public let usableMemoryBytes: Double
    /// Why `usableMemoryBytes` is what it is, in one sentence with its source.
    public let usableReason: String
    /// Read bandwidth in bytes per second: measured on this machine, published for a profile.
    public let bandwidth: Double
    public let bandwidthSource: String
    /// Whether the speed factors measured here (per-layer overhead, compute) apply: only on the
    /// machine `hearth bench` ran on.
    public let isThisMachine: Bool

    public init(title: String, totalMemoryBytes: Double, usableMemoryBytes: Double, usableReason: String,
                bandwidth: Double, bandwidthSource: String, isThisMachine: Bool) {
        self.title = title
        self.totalMemoryBytes = totalMemoryBytes
        self.usableMemoryBytes = usableMemoryBytes
        self.usableReason = usableReason
        self.bandwidth = bandwidth
        self.bandwidthSource = bandwidthSource
        self.isThisMachine = isThisMachine
    }
}

/// The share of a machine's memory a model may take, and why.
public enum UsableMemory {
    /// macOS lets the GPU wire about 2/3 of unified memory below 36GB and about 3/4 from 36GB
    /// (Metal's `recommendedMaxWorkingSetSize`, raised with `sysctl iogpu.wired_limit_mb`).
    /// Hearth computes on the CPU, which is not bound by that limit, but the same budget leaves
    /// macOS and the user's apps the memory they keep anyway, and it is the budget the published
    /// estimates (GPU runtimes) live within, so comparisons are like for like.
    public static func appleFraction(memoryGB: Double) -> Double { memoryGB >= 36 ? 0.75 : 2.0 / 3.0 }

    public static let appleSource = "macOS GPU working-set limit: ~2/3 of unified memory below 36GB (10.67GB of 16GB on an M4, github.com/exo-explore/exo/pull/1672), ~3/4 from 36GB (github.com/gpustack/gpustack/issues/1375); `sysctl iogpu.wired_limit_mb` raises it"
    /// A PC's operating system and desktop keep about 15%; a GPU keeps ~1GB for its context.
    public static let systemFraction = 0.85
    public static let gpuFraction = 0.95

    public static func fraction(for kind: MemoryKind, memoryGB: Double) -> Double {
        switch kind {
        case .appleUnified: appleFraction(memoryGB: memoryGB)
        case .systemRAM: systemFraction
        case .discreteGPU: gpuFraction
        }
    }

    public static func reason(for kind: MemoryKind, memoryGB: Double) -> String {
        switch kind {
        case .appleUnified:
            let share = memoryGB >= 36 ? "3/4" : "2/3"
            return "\(share) of unified memory (\(appleSource))"
        case .systemRAM:
            return "85% of RAM: the operating system, page cache and desktop keep the rest"
        case .discreteGPU:
            return "95% of VRAM: the driver and display keep the rest; Hearth itself computes on the CPU, so this is what a GPU runtime could use"
        }
    }

    /// A target for a profile at one of its memory sizes.
    public static func target(_ profile: DeviceProfile, memoryGB: Int) -> Target {
        let gb = Double(memoryGB)
        // Apple and RAM vendors sell binary gigabytes ("16GB" is 16 GiB).
        let total = gb * 1_073_741_824
        return Target(title: "\(profile.title), \(memoryGB)GB", totalMemoryBytes: total,
                      usableMemoryBytes: total * fraction(for: profile.kind, memoryGB: gb),
                      usableReason: reason(for: profile.kind, memoryGB: gb),
                      bandwidth: profile.bandwidthGBps.value * 1e9, bandwidthSource: profile.bandwidthGBps.source,
                      isThisMachine: false)
    }
}

/// Peak memory of a generating process, by part.
public struct MemoryEstimate: Sendable, Equatable, Codable {
    /// The resident part of the mapped file: every tensor a decode step reads, the metadata,
    /// and the pages of a lookup-only embedding table that the context's tokens touch.
    public var weights: Double
    /// Keys and values for the whole context, binary16.
    public var kvCache: Double
    /// Forward-pass scratch for a full batch, quantised activations, logits.
    public var buffers: Double
    /// The process itself, the tokenizer's tables, and generation state.
    public var runtime: Double

    public var total: Double { weights + kvCache + buffers + runtime }
}

/// Decode and prompt speed factors, measured by `hearth bench` (or the stated defaults).
public struct Efficiency: Sendable, Equatable, Codable {
    /// Decode bytes per second ÷ measured read bandwidth.
    public var bandwidthFraction: Double
    /// Fixed decode cost per layer and token (thread hand-offs, attention, norms), seconds.
    public var decodeSecondsPerLayer: Double
    /// Prompt processing multiply-adds × 2 per second, when measured.
    public var promptFlops: Double?
    /// Fixed prompt cost per layer and token, seconds.
    public var promptSecondsPerLayer: Double
    /// How the numbers were obtained, for the output.
    public var basis: String
    public var measured: Bool

    public init(bandwidthFraction: Double, decodeSecondsPerLayer: Double, promptFlops: Double?,
                promptSecondsPerLayer: Double, basis: String, measured: Bool) {
        self.bandwidthFraction = bandwidthFraction
        self.decodeSecondsPerLayer = decodeSecondsPerLayer
        self.promptFlops = promptFlops
        self.promptSecondsPerLayer = promptSecondsPerLayer
        self.basis = basis
        self.measured = measured
    }

    /// Used until `hearth bench` has run: a CPU decoder streaming quantised weights reaches
    /// about 60% of the read bandwidth a plain summing loop does (dequantisation and dot
    /// products cost cycles between loads); no per-layer overhead and no prompt estimate.
    public static let unmeasured = Efficiency(
        bandwidthFraction: 0.6, decodeSecondsPerLayer: 0, promptFlops: nil, promptSecondsPerLayer: 0,
        basis: "default (no `hearth bench` result yet): decode at 60% of read bandwidth", measured: false)
}

/// What a model costs on a target.
public struct Prediction: Sendable, Equatable {
    public let memory: MemoryEstimate
    public let usableMemory: Double
    /// Tokens of context the estimate is for (capped at the trained context).
    public let context: Int
    public let decodeTokensPerSecond: Double
    /// Decode speed when the context is full (the KV cache is read every token too).
    public let decodeTokensPerSecondFullContext: Double
    public let promptTokensPerSecond: Double?

    public var fits: Bool { memory.total <= usableMemory }
}

/// The formulas. All sizes in bytes, speeds in tokens per second.
public enum CostModel {
    /// Tokens the runtime processes in one forward pass (TransformerModel.maximumBatch).
    public static let batch = 128
    /// The Swift runtime, Foundation and the binary: peak resident size of `hearth --version`
    /// (22.6 MiB measured on Linux x86-64).
    public static let processBaseline = 22.6 * 1_048_576
    /// Tokenizer heap per vocabulary entry and per BPE merge (strings, lookup tables, ranks):
    /// `hearth tokenize` peak RSS minus the baseline and the mapped metadata, over tokens +
    /// merges, measured 96–111 bytes for SmolLM2, Gemma 3 and Qwen 2.5.
    public static let tokenizerBytesPerEntry = 100.0
    /// What a generating process holds beyond the parts above (sampler copies, chat state,
    /// allocator slack): the remainder of peak RSS in `hearth run` over four models, 6–13 MB.
    public static let generationState = 8.0 * 1_048_576

    /// Keys and values of `context` positions, in the cache type's bytes per head (f16: 2 bytes
    /// a value; q8_0: 34 per 32).
    public static func kvCacheBytes(_ shape: ModelShape, context: Int, cacheType: KVCacheType = .f16) -> Double {
        Double(cacheType.cacheBytes(layers: shape.layers, kvHeads: shape.kvHeads, keyDimension: shape.headDimension,
                                    valueDimension: shape.headDimension, capacity: 1)) * Double(context)
    }

    /// The forward pass's scratch at a full batch: hidden, normed, q, k, v, attention output,
    /// projection, gate and up rows in Float32 (ForwardBuffers), the quantised copies of the
    /// matmul inputs (~1.07 bytes per element for the 8-bit activation blocks), and the logits
    /// (a vocabulary row returned, copied once by the caller and once by the sampler).
    public static func bufferBytes(_ shape: ModelShape) -> Double {
        let e = Double(shape.embedding)
        let q = Double(shape.heads * shape.headDimension)
        let kv = Double(shape.kvHeads * shape.headDimension)
        let f = Double(shape.feedForward)
        let floats = e + max(e, q) + q + 2 * kv + q + e + 2 * f
        let quantised = (e + q + f) * 1.07
        return Double(batch) * (floats * 4 + quantised) + 3 * Double(shape.vocabulary) * 4
    }

    /// Weights that become resident: all but a lookup-only embedding table, of which at most one
    /// 4 KiB page per token of context is touched.
    public static func residentWeightBytes(_ shape: ModelShape, context: Int) -> Double {
        let touchedRows = min(shape.lookupOnlyBytes, Double(context) * 4096)
        return shape.weightBytes - shape.lookupOnlyBytes + touchedRows + shape.metadataBytes
    }

    public static func memory(_ shape: ModelShape, context: Int, cacheType: KVCacheType = .f16) -> MemoryEstimate {
        MemoryEstimate(weights: residentWeightBytes(shape, context: context),
                       kvCache: kvCacheBytes(shape, context: context, cacheType: cacheType),
                       buffers: bufferBytes(shape),
                       runtime: processBaseline + generationState
                           + tokenizerBytesPerEntry * Double(shape.vocabulary + shape.merges))
    }

    /// The context a session gets: what was asked, capped at the model's trained context.
    public static func effectiveContext(_ shape: ModelShape, requested: Int) -> Int {
        min(requested, shape.trainedContext ?? requested)
    }

    /// Seconds per generated token at `position` tokens of context: the weights and the filled
    /// part of the KV cache stream through memory once, plus the fixed per-layer cost.
    public static func decodeSeconds(_ shape: ModelShape, target: Target, efficiency: Efficiency, position: Int,
                                     cacheType: KVCacheType = .f16) -> Double {
        let bytes = shape.bytesPerToken + kvCacheBytes(shape, context: position, cacheType: cacheType)
        let overhead = target.isThisMachine ? efficiency.decodeSecondsPerLayer * Double(shape.layers) : 0
        return bytes / (efficiency.bandwidthFraction * target.bandwidth) + overhead
    }

    /// Prompt tokens per second in full batches: two flops per active parameter per token.
    public static func promptTokensPerSecond(_ shape: ModelShape, target: Target, efficiency: Efficiency) -> Double? {
        guard target.isThisMachine, let flops = efficiency.promptFlops, flops > 0 else { return nil }
        return 1 / (2 * shape.activeParameters / flops + efficiency.promptSecondsPerLayer * Double(shape.layers))
    }

    public static func predict(_ shape: ModelShape, on target: Target, efficiency: Efficiency, context requested: Int,
                               cacheType: KVCacheType = .f16) -> Prediction {
        let context = effectiveContext(shape, requested: requested)
        return Prediction(
            memory: memory(shape, context: context, cacheType: cacheType), usableMemory: target.usableMemoryBytes, context: context,
            decodeTokensPerSecond: 1 / decodeSeconds(shape, target: target, efficiency: efficiency, position: 0),
            decodeTokensPerSecondFullContext: 1 / decodeSeconds(shape, target: target, efficiency: efficiency, position: context,
                                                                cacheType: cacheType),
            promptTokensPerSecond: promptTokensPerSecond(shape, target: target, efficiency: efficiency))
    }
}
