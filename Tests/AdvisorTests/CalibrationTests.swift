import Foundation
import Testing
@testable import Advisor

@Suite struct CalibrationTests {
    static func record(_ model: String, bytes: Double, layers: Int, tps: Double, pp: Double = 0,
                       host: String = "host", threads: Int = 2, bandwidth: Double = 40e9) -> BenchRecord {
        let shape = ModelShape(parameters: bytes * 2, activeParameters: bytes * 2, weightBytes: bytes, bytesPerToken: bytes,
                               layers: layers, embedding: 64, heads: 4, kvHeads: 1, headDimension: 16,
                               feedForward: 128, vocabulary: 100)
        return BenchRecord(model: model, sha256: nil, host: host, threads: threads, promptTokens: pp > 0 ? 512 : 0,
                           generatedTokens: 0, promptTokensPerSecond: pp, generatedTokensPerSecond: tps,
                           weightBytes: bytes, readBandwidth: bandwidth, shape: shape)
    }

    /// Records generated from η = 0.6 and 80 µs per layer: the fit must give them back.
    @Test func recoversTheFactorsThatMadeTheRecords() {
        let eta = 0.6, perLayer = 80e-6, bandwidth = 40e9
        let models: [(Double, Int)] = [(1e8, 30), (2.5e8, 18), (5e8, 24), (1.1e9, 28)]
        let records = models.enumerated().map { index, model in
            let seconds = model.0 / (eta * bandwidth) + perLayer * Double(model.1)
            let flops = 2 * model.0 * 2
            return Self.record("m\(index)", bytes: model.0, layers: model.1, tps: 1 / seconds,
                               pp: 1 / (flops / 5e10 + 20e-6 * Double(model.1)))
        }
        let fitted = Efficiency.fitted(to: records, host: "host")
        #expect(fitted.measured)
        #expect(abs(fitted.bandwidthFraction - eta) < 1e-6)
        #expect(abs(fitted.decodeSecondsPerLayer - perLayer) < 1e-9)
        #expect(abs(fitted.promptFlops! - 5e10) / 5e10 < 1e-6)
        #expect(abs(fitted.promptSecondsPerLayer - 20e-6) < 1e-10)
    }

    @Test func oneRecordGivesEtaOnly() {
        let fitted = Efficiency.fitted(to: [Self.record("a", bytes: 1e9, layers: 20, tps: 20)], host: "host")
        #expect(fitted.decodeSecondsPerLayer == 0)
        // 1e9 bytes in 50 ms at 40 GB/s: η = 0.5.
        #expect(abs(fitted.bandwidthFraction - 0.5) < 1e-9)
        #expect(fitted.promptFlops == nil)
    }

    @Test func otherMachinesRecordsAreIgnored() {
        let fitted = Efficiency.fitted(to: [Self.record("a", bytes: 1e9, layers: 20, tps: 20, host: "elsewhere")], host: "host")
        #expect(fitted == .unmeasured)
        #expect(Efficiency.fitted(to: [], host: "host") == .unmeasured)
    }

    @Test func mostThreadsWin() {
        let records = [Self.record("a", bytes: 1e9, layers: 20, tps: 10, threads: 1),
                       Self.record("a", bytes: 1e9, layers: 20, tps: 20, threads: 2)]
        #expect(abs(Efficiency.fitted(to: records, host: "host").bandwidthFraction - 0.5) < 1e-9)
    }

    @Test func negativeLayerCostFallsBackToEtaOnly() {
        // Bigger models faster per byte than small ones would need a negative per-layer cost.
        let records = [Self.record("a", bytes: 1e8, layers: 40, tps: 400), Self.record("b", bytes: 1e9, layers: 10, tps: 20)]
        let fitted = Efficiency.fitted(to: records, host: "host")
        #expect(fitted.decodeSecondsPerLayer == 0)
        #expect(fitted.bandwidthFraction > 0)
    }

    @Test func benchCacheKeepsOneRecordPerModelAndThreads() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("advisor-\(UUID().uuidString)/bench.json")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let cache = BenchCache(file: file)
        #expect(cache.records().isEmpty)
        try cache.save(Self.record("a", bytes: 1e9, layers: 20, tps: 10))
        try cache.save(Self.record("b", bytes: 1e9, layers: 20, tps: 11))
        try cache.save(Self.record("a", bytes: 1e9, layers: 20, tps: 12))
        let records = cache.records()
        #expect(records.map(\.model) == ["a", "b"])
        #expect(records[0].generatedTokensPerSecond == 12)
        // A corrupt cache reads as empty rather than failing `hearth fit`.
        try Data("{".utf8).write(to: file)
        #expect(cache.records().isEmpty)
    }
}

/// The automatic draft choice: only a draft measured here, with these threads, to decode this
/// model ≥ 1.1× faster, and still installed.
@Suite struct DraftAdviceTests {
    static func record(draft: String, sha: String, plain: Double = 20, drafted: Double, host: String = "host", threads: Int = 2,
                       identical: Bool = true) -> DraftRecord {
        DraftRecord(model: "big", modelSHA256: "BIG", draft: draft, draftSHA256: sha, host: host, threads: threads,
                    plainTokensPerSecond: plain, draftedTokensPerSecond: drafted, acceptance: 0.8, identical: identical)
    }
    static let installed = [(name: "big", sha256: "BIG"), (name: "small", sha256: "SMALL"), (name: "tiny", sha256: "TINY")]

    func choose(_ records: [DraftRecord], installed: [(name: String, sha256: String)] = installed) -> Result<DraftAdvice.Choice, DraftAdvice.Reason> {
        DraftAdvice.choose(modelSHA256: "BIG", installed: installed, records: records, host: "host", threads: 2)
    }

    @Test func theFastestDraftThatPaysIsChosen() throws {
        let records = [Self.record(draft: "small", sha: "SMALL", drafted: 26), Self.record(draft: "tiny", sha: "TINY", drafted: 30)]
        let choice = try choose(records).get()
        #expect(choice.draft == "tiny" && abs(choice.record.speedup - 1.5) < 1e-9)
    }

    @Test func noDraftWithoutAMeasurementHereOrWhenItDoesNotPay() {
        #expect(choose([]) == .failure(.unmeasured))
        // Another machine, other threads, or a run whose tokens differed do not count.
        #expect(choose([Self.record(draft: "small", sha: "SMALL", drafted: 40, host: "other")]) == .failure(.unmeasured))
        #expect(choose([Self.record(draft: "small", sha: "SMALL", drafted: 40, threads: 8)]) == .failure(.unmeasured))
        #expect(choose([Self.record(draft: "small", sha: "SMALL", drafted: 40, identical: false)]) == .failure(.unmeasured))
        let slow = Self.record(draft: "small", sha: "SMALL", drafted: 17)
        #expect(choose([slow]) == .failure(.doesNotPay(slow)))
        #expect("\(DraftAdvice.Reason.doesNotPay(slow))".contains("0.85×"))
        // Just under the threshold is noise, not a gain.
        #expect((try? choose([Self.record(draft: "small", sha: "SMALL", drafted: 21.8)]).get()) == nil)
        #expect(choose([Self.record(draft: "gone", sha: "GONE", drafted: 40)]) == .failure(.notInstalled))
    }

    @Test func draftRecordsKeepOnePerPairOfModelsThreadsAndHost() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("advisor-\(UUID().uuidString)/drafts.json")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let cache = DraftCache(file: file)
        #expect(cache.recordsByKey().isEmpty)
        try cache.save(Self.record(draft: "small", sha: "SMALL", drafted: 15))
        try cache.save(Self.record(draft: "small", sha: "SMALL", drafted: 25))
        try cache.save(Self.record(draft: "small", sha: "SMALL", drafted: 25, threads: 4))
        let records = cache.recordsByKey().values.sorted { $0.threads < $1.threads }
        #expect(records.map(\.threads) == [2, 4])
        #expect(records[0].draftedTokensPerSecond == 25)
    }
}
