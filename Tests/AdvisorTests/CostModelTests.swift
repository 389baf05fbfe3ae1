import Foundation
import Testing
@testable import Advisor

@Suite struct CostModelTests {
    static let shape = ModelShape(parameters: 1e9, activeParameters: 1e9, weightBytes: 5e8, bytesPerToken: 5e8,
                                  layers: 20, embedding: 2048, heads: 16, kvHeads: 4, headDimension: 128,
                                  feedForward: 8192, vocabulary: 32000, trainedContext: 2048)

    static func target(usable: Double = 8e9, bandwidth: Double = 100e9, here: Bool = true) -> Target {
        Target(title: "test", totalMemoryBytes: usable * 2, usableMemoryBytes: usable, usableReason: "test",
               bandwidth: bandwidth, bandwidthSource: "test", isThisMachine: here)
    }

    static let efficiency = Efficiency(bandwidthFraction: 0.5, decodeSecondsPerLayer: 1e-4, promptFlops: 1e11,
                                       promptSecondsPerLayer: 0, basis: "test", measured: true)

    @Test func kvCacheIsLayersTimesContextTimesKVWidthTimesTwoTimesTwoBytes() {
        #expect(CostModel.kvCacheBytes(Self.shape, context: 1000) == Double(20 * 1000 * 4 * 128 * 2 * 2))
        // A Q8_0 cache: 34 bytes per 32 values, in memory and in what decode reads at full context.
        #expect(CostModel.kvCacheBytes(Self.shape, context: 1000, cacheType: .q8_0) == Double(20 * 1000 * 4 * 128 * 2) * 34 / 32)
        let f16 = CostModel.predict(Self.shape, on: Self.target(), efficiency: Self.efficiency, context: 2048)
        let q8 = CostModel.predict(Self.shape, on: Self.target(), efficiency: Self.efficiency, context: 2048, cacheType: .q8_0)
        #expect(q8.memory.kvCache * 64 == f16.memory.kvCache * 34)
        #expect(q8.decodeTokensPerSecondFullContext > f16.decodeTokensPerSecondFullContext)
        #expect(q8.decodeTokensPerSecond == f16.decodeTokensPerSecond)
    }

    @Test func contextIsCappedAtTheTrainedLength() {
        let prediction = CostModel.predict(Self.shape, on: Self.target(), efficiency: Self.efficiency, context: 100_000)
        #expect(prediction.context == 2048)
        #expect(prediction.memory.kvCache == CostModel.kvCacheBytes(Self.shape, context: 2048))
    }

    @Test func memoryIsTheSumOfItsParts() {
        let memory = CostModel.memory(Self.shape, context: 512)
        #expect(memory.weights == 5e8)
        #expect(memory.total == memory.weights + memory.kvCache + memory.buffers + memory.runtime)
        // Buffers: a 128-token batch of Float32 rows is tens of MB here, far below the weights.
        #expect(memory.buffers > 1e6 && memory.buffers < 1e8)
    }

    @Test func decodeIsBandwidthOverBytesPlusLayerCostHereOnly() {
        let here = CostModel.predict(Self.shape, on: Self.target(), efficiency: Self.efficiency, context: 512)
        // 5e8 bytes at 0.5 × 100 GB/s = 10 ms, plus 20 × 0.1 ms = 12 ms.
        #expect(abs(here.decodeTokensPerSecond - 1 / 0.012) < 1e-6)
        #expect(here.decodeTokensPerSecondFullContext < here.decodeTokensPerSecond)
        let elsewhere = CostModel.predict(Self.shape, on: Self.target(here: false), efficiency: Self.efficiency, context: 512)
        #expect(abs(elsewhere.decodeTokensPerSecond - 100) < 1e-6)
        #expect(elsewhere.promptTokensPerSecond == nil)
        // 2 flops per parameter at 1e11 flop/s = 50 tokens/s.
        #expect(abs(here.promptTokensPerSecond! - 50) < 1e-6)
    }

    @Test func fitsComparesWithUsableMemory() {
        let total = CostModel.memory(Self.shape, context: 512).total
        #expect(CostModel.predict(Self.shape, on: Self.target(usable: total + 1), efficiency: Self.efficiency, context: 512).fits)
        #expect(!CostModel.predict(Self.shape, on: Self.target(usable: total - 1), efficiency: Self.efficiency, context: 512).fits)
    }

    @Test func mixtureOfExpertsDecodesLikeItsActiveSize() {
        let moe = GenericModel.listed.first { $0.name.hasPrefix("Qwen3-30B") }!
        let shape = moe.shape(Quantization.named("q4_k_m")!)
        #expect(abs(shape.weightBytes - 30.5e9 * 4.8944 / 8) < 1)
        #expect(abs(shape.bytesPerToken - 3.3e9 * 4.8944 / 8) < 1)
    }

    @Test func appleUsableShareFollowsTheWiredLimit() {
        let small = UsableMemory.target(DeviceProfile.named("m1")!, memoryGB: 16)
        #expect(abs(small.usableMemoryBytes / small.totalMemoryBytes - 2.0 / 3.0) < 1e-9)
        let large = UsableMemory.target(DeviceProfile.named("m4-pro")!, memoryGB: 64)
        #expect(abs(large.usableMemoryBytes / large.totalMemoryBytes - 0.75) < 1e-9)
        #expect(large.bandwidth == 273e9)
    }
}
