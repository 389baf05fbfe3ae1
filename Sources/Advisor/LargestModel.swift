import Foundation
import Models

/// A model size with no file at hand: a dense size, or a mixture of experts whose decode reads
/// only the routed experts (`activeBillions`) while all experts must sit in memory.
public struct GenericModel: Sendable, Equatable {
    public let name: String
    public let billions: Double
    public let activeBillions: Double
    public let layers: Int
    public let embedding: Int
    public let kvHeads: Int
    public let headDimension: Int
    public let vocabulary: Int
    public let source: String

    public var isMixtureOfExperts: Bool { activeBillions < billions }

    /// A dense model of `billions` parameters shaped like the published models of that size.
    public static func dense(billions: Double, name: String? = nil) -> GenericModel {
        let reference = ReferenceShape.interpolated(billions: billions)
        let label = billions < 10 ? String(format: "%.0fB", billions) : String(format: "%.0fB", billions.rounded())
        return GenericModel(name: name ?? "\(label) dense", billions: billions, activeBillions: billions,
                            layers: reference.layers, embedding: reference.embedding, kvHeads: reference.kvHeads,
                            headDimension: reference.headDimension, vocabulary: reference.vocabulary,
                            source: "shape interpolated from Llama 3.x / Qwen 2.5 configs")
    }

    /// The sizes `hearth fit` lists: dense 1B … 405B and four mixtures of experts (their shapes
    /// from each model's `config.json` on Hugging Face).
    public static let listed: [GenericModel] = [1, 3, 8, 14, 32, 70, 405].map { dense(billions: Double($0)) } + [
        GenericModel(name: "Qwen3-30B-A3B (MoE)", billions: 30.5, activeBillions: 3.3, layers: 48, embedding: 2048,
                     kvHeads: 4, headDimension: 128, vocabulary: 151_936, source: "Qwen/Qwen3-30B-A3B config.json"),
        GenericModel(name: "Mixtral-8x7B (MoE)", billions: 46.7, activeBillions: 12.9, layers: 32, embedding: 4096,
                     kvHeads: 8, headDimension: 128, vocabulary: 32_000, source: "mistralai/Mixtral-8x7B-v0.1 config.json"),
        GenericModel(name: "Llama-4-Scout 109B-A17B (MoE)", billions: 109, activeBillions: 17, layers: 48, embedding: 5120,
                     kvHeads: 8, headDimension: 128, vocabulary: 202_048, source: "meta-llama/Llama-4-Scout-17B-16E config.json"),
        GenericModel(name: "gpt-oss-120b (MoE)", billions: 116.8, activeBillions: 5.1, layers: 36, embedding: 2880,
                     kvHeads: 8, headDimension: 64, vocabulary: 201_088, source: "openai/gpt-oss-120b config.json"),
    ]

    /// The shape at a quantisation: every weight at its effective bits.
    public func shape(_ quantization: Quantization) -> ModelShape {
        let bytesPerWeight = quantization.bitsPerWeight / 8
        let heads = max(1, embedding / headDimension)
        return ModelShape(parameters: billions * 1e9, activeParameters: activeBillions * 1e9,
                          weightBytes: billions * 1e9 * bytesPerWeight, bytesPerToken: activeBillions * 1e9 * bytesPerWeight,
                          layers: layers, embedding: embedding, heads: heads, kvHeads: kvHeads,
                          headDimension: headDimension, feedForward: embedding * 7 / 2, vocabulary: vocabulary)
    }
}

/// The answer to "how large a dense model can this machine run well".
public struct LargestModel: Sendable, Equatable {
    public enum Limit: String, Sendable { case memory, speed }
    /// Billions of parameters: the largest that both fits and decodes at the minimum speed.
    public let billions: Double
    /// The largest that fits, whatever its speed.
    public let memoryBillions: Double
    /// The largest that decodes at the minimum speed, whatever its memory.
    public let speedBillions: Double
    public var limit: Limit { memoryBillions <= speedBillions ? .memory : .speed }

    /// Bisection over dense sizes: memory and decode time both grow with size, so each limit is
    /// the crossing point of a monotone condition.
    public static func find(on target: Target, quantization: Quantization, efficiency: Efficiency,
                            context: Int, minimumSpeed: Double, cacheType: KVCacheType = .f16) -> LargestModel {
        func prediction(_ billions: Double) -> Prediction {
            CostModel.predict(GenericModel.dense(billions: billions).shape(quantization), on: target,
                              efficiency: efficiency, context: context, cacheType: cacheType)
        }
        let memory = largest { prediction($0).fits }
        let speed = largest { prediction($0).decodeTokensPerSecond >= minimumSpeed }
        return LargestModel(billions: min(memory, speed), memoryBillions: memory, speedBillions: speed)
    }

    /// The largest size in 0…10,000B for which `holds` is true (0 when even 10M parameters fail).
    static func largest(where holds: (Double) -> Bool) -> Double {
        var low = 0.01, high = 10_000.0
        guard holds(low) else { return 0 }
        if holds(high) { return high }
        for _ in 0..<60 where high / low > 1.001 {
            let middle = (low * high).squareRoot()
            if holds(middle) { low = middle } else { high = middle }
        }
        return low
    }
}

/// One line of `hearth fit --seed-table`: the published estimate beside Hearth's.
public struct SeedComparison: Sendable {
    public let seed: SeedEstimate
    public let profile: DeviceProfile
    public let memoryGB: Int
    public let target: Target
    public let estimate: LargestModel
    /// The published size's memory need and decode speed under this model.
    public let publishedPrediction: Prediction
    public let explanation: String

    /// Compares every seed row at the machine's largest memory option (the table names chips,
    /// not configurations, and the largest is the most the chip can do).
    public static func all(quantization: Quantization, efficiency: Efficiency, context: Int,
                           minimumSpeed: Double) -> [SeedComparison] {
        SeedEstimate.table.compactMap { seed in
            guard let profile = DeviceProfile.named(seed.device) else { return nil }
            let memoryGB = profile.largestMemoryGB
            let target = UsableMemory.target(profile, memoryGB: memoryGB)
            let estimate = LargestModel.find(on: target, quantization: quantization, efficiency: efficiency,
                                             context: context, minimumSpeed: minimumSpeed)
            let published = CostModel.predict(GenericModel.dense(billions: seed.publishedBillions).shape(quantization),
                                              on: target, efficiency: efficiency, context: context)
            return SeedComparison(seed: seed, profile: profile, memoryGB: memoryGB, target: target, estimate: estimate,
                                  publishedPrediction: published,
                                  explanation: explain(seed: seed, estimate: estimate, published: published,
                                                       target: target, minimumSpeed: minimumSpeed))
        }
    }

    static func explain(seed: SeedEstimate, estimate: LargestModel, published: Prediction, target: Target,
                        minimumSpeed: Double) -> String {
        let gb = { (bytes: Double) in String(format: "%.1f GB", bytes / 1e9) }
        let size = { (billions: Double) in String(format: billions < 100 ? "%.1fB" : "%.0fB", billions) }
        let bar = String(format: "%.0f t/s", minimumSpeed)
        let speed = String(format: "%.1f t/s", published.decodeTokensPerSecond)
        let bound = estimate.limit == .memory
            ? "Hearth is memory-bound (\(gb(target.usableMemoryBytes)) usable)"
            : "Hearth is speed-bound (\(bar) needs ≤ \(size(estimate.speedBillions)))"
        if abs(estimate.billions / seed.publishedBillions - 1) <= 0.15 {
            return "agrees within 15%; \(bound)"
        }
        if !published.fits {
            return "the published \(size(seed.publishedBillions)) needs \(gb(published.memory.total)) > \(gb(target.usableMemoryBytes)) usable: it counts on more memory than the GPU working set, or on fewer bits"
        }
        if published.decodeTokensPerSecond < minimumSpeed {
            let why = seed.publishedBillions >= 0.8 * estimate.memoryBillions
                ? "it tracks the memory limit (\(size(estimate.memoryBillions)) fits here) and accepts slower decoding"
                : "it assumes a lower speed bar, or decoding nearer the bandwidth limit than η"
            return "the published size fits but decodes at \(speed) here, under \(bar): \(why)"
        }
        return "the published size fits and decodes at \(speed) here: it is conservative; \(bound)"
    }
}
