import Foundation
import Testing
@testable import Advisor

@Suite struct LargestModelTests {
    static let efficiency = Efficiency(bandwidthFraction: 0.6, decodeSecondsPerLayer: 0, promptFlops: nil,
                                       promptSecondsPerLayer: 0, basis: "test", measured: true)

    @Test func largestIsOnTheEdgeOfBothLimits() {
        let q4 = Quantization.common[0]
        let target = UsableMemory.target(DeviceProfile.named("m4-pro")!, memoryGB: 64)
        let result = LargestModel.find(on: target, quantization: q4, efficiency: Self.efficiency, context: 4096, minimumSpeed: 10)
        #expect(result.billions == min(result.memoryBillions, result.speedBillions))
        func predict(_ billions: Double) -> Prediction {
            CostModel.predict(GenericModel.dense(billions: billions).shape(q4), on: target, efficiency: Self.efficiency, context: 4096)
        }
        #expect(predict(result.memoryBillions).fits && !predict(result.memoryBillions * 1.01).fits)
        #expect(predict(result.speedBillions).decodeTokensPerSecond >= 10)
        #expect(predict(result.speedBillions * 1.01).decodeTokensPerSecond < 10)
        // 273 GB/s × 0.6 at 10 t/s reads 16.4 GB a token: 26.8B at 4.89 bits (0.612 bytes each).
        #expect(result.speedBillions > 26.5 && result.speedBillions < 27.1)
        #expect(result.limit == .speed)
    }

    @Test func moreBitsMeanSmallerModels() {
        let target = UsableMemory.target(DeviceProfile.named("m1")!, memoryGB: 16)
        let sizes = Quantization.common.map {
            LargestModel.find(on: target, quantization: $0, efficiency: Self.efficiency, context: 4096, minimumSpeed: 10).billions
        }
        #expect(sizes == sizes.sorted(by: >))
        #expect(sizes.allSatisfy { $0 > 0 })
    }

    @Test func aSlowMachineCanRunNothingAtAnImpossibleSpeed() {
        let target = UsableMemory.target(DeviceProfile.named("raspberry-pi-5")!, memoryGB: 2)
        let result = LargestModel.find(on: target, quantization: Quantization.common[3], efficiency: Self.efficiency,
                                       context: 4096, minimumSpeed: 100_000)
        #expect(result.billions == 0)
    }

    @Test func seedTableCoversSevenMachinesWithSources() {
        let rows = SeedComparison.all(quantization: Quantization.common[0], efficiency: Self.efficiency,
                                      context: 4096, minimumSpeed: 10)
        #expect(rows.count == 7)
        #expect(rows.map(\.seed.year) == Array(2020...2026))
        for row in rows {
            #expect(row.profile.bandwidthGBps.source.contains("http") || row.profile.bandwidthGBps.source.contains("Projected"))
            #expect(!row.explanation.isEmpty)
            #expect(row.estimate.billions > 1)
        }
        #expect(rows.last!.profile.projected)
    }

    @Test func profilesAreFoundByLooseNames() {
        #expect(DeviceProfile.named("M4 Pro")?.name == "m4-pro")
        #expect(DeviceProfile.named("m4pro")?.name == "m4-pro")
        #expect(DeviceProfile.named("m9") == nil)
        #expect(Set(DeviceProfile.names).count == DeviceProfile.all.count)
        for profile in DeviceProfile.all {
            #expect(!profile.memoryOptionsGB.value.isEmpty && !profile.memoryOptionsGB.source.isEmpty)
            #expect(profile.bandwidthGBps.value > 0 && !profile.bandwidthGBps.source.isEmpty)
        }
    }

    @Test func fitGateRefusesWithTheNumbers() {
        let shape = FitGate.estimatedShape(fileBytes: 40e9)
        let small = CostModelTests.target(usable: 8e9)
        let refusal = FitGate.refusal(model: "big", shape: shape, target: small, estimated: true, howToOverride: "use --force")
        #expect(refusal?.contains("big does not fit") == true)
        #expect(refusal?.contains("8.00 GB") == true)
        #expect(refusal?.contains("--force") == true)
        #expect(FitGate.refusal(model: "big", shape: shape, target: CostModelTests.target(usable: 64e9),
                                howToOverride: "") == nil)
    }
}
