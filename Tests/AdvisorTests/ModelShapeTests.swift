import Foundation
import GGUF
import Testing
@testable import Advisor

@Suite struct ModelShapeTests {
    @Test func readsTheHeaderAndSkipsTheEmbeddingLookup() throws {
        let path = try TinyModel.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        let shape = try ModelShape(file: file)
        // token_embd 80 + output 80 + norm 8 + 2 × (q 64 + k 32 + up 128) = 616 parameters.
        #expect(shape.parameters == 616)
        #expect(shape.weightBytes == 616 * 4)
        // A decode step looks up one embedding row: the table is not streamed.
        #expect(shape.activeParameters == 616 - 80)
        #expect(shape.bytesPerToken == Double((616 - 80) * 4))
        #expect(shape.layers == 2 && shape.kvHeads == 2 && shape.headDimension == 2 && shape.vocabulary == 10)
        #expect(shape.trainedContext == 64)
        #expect(shape.metadataBytes == Double(file.fileSize) - shape.weightBytes)
        #expect(shape.kvElementsPerToken == 2 * 2 * 2 * 2)
        // The untied embedding table is looked up, not streamed: only touched pages are resident.
        #expect(shape.lookupOnlyBytes == 80 * 4)
        #expect(shape.merges == 0)
    }

    @Test func residentWeightsLeaveOutUntouchedEmbeddingPages() throws {
        let path = try TinyModel.write(.init(vocabulary: 4000, merges: 3))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let shape = try ModelShape(file: try GGUFFile(path: path))
        #expect(shape.merges == 3)
        #expect(shape.lookupOnlyBytes == 4000 * 8 * 4)
        // Two tokens of context touch at most two 4 KiB pages of the 128,000-byte table.
        #expect(CostModel.residentWeightBytes(shape, context: 2)
                == shape.weightBytes - shape.lookupOnlyBytes + 2 * 4096 + shape.metadataBytes)
        #expect(CostModel.residentWeightBytes(shape, context: 1000) == shape.weightBytes + shape.metadataBytes)
        let runtime = CostModel.memory(shape, context: 2).runtime
        #expect(runtime == CostModel.processBaseline + CostModel.generationState + 100 * Double(4000 + 3))
    }

    @Test func tiedEmbeddingIsReadEveryToken() throws {
        let path = try TinyModel.write(.init(tied: true))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let shape = try ModelShape(file: try GGUFFile(path: path))
        #expect(shape.activeParameters == shape.parameters)
        #expect(shape.lookupOnlyBytes == 0)
    }

    @Test func mixtureOfExpertsReadsOnlyRoutedExperts() throws {
        let path = try TinyModel.write(.init(experts: 4, expertsUsed: 1))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let shape = try ModelShape(file: try GGUFFile(path: path))
        let experts = 2.0 * 8 * 16 * 4
        #expect(shape.parameters - shape.activeParameters == 80 + experts * 3 / 4)
    }

    @Test func missingKeyIsNamed() throws {
        let path = try TinyModel.write(.init(omitBlockCount: true))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try ModelShape(file: try GGUFFile(path: path)) } throws: { error in
            "\(error)".contains("llama.block_count")
        }
    }

    /// gemma2 (key_length 32 where d/heads is 16) and phi3 (fused attn_qkv and gate-up) size as
    /// the runtime allocates them: every layer caches the whole context (sliding-window layers
    /// too), with the head size from `attention.key_length` when present. The files are the
    /// tiny fixtures ModelsTests checks against llama.cpp.
    @Test(arguments: [("tiny-gemma2", 32, 2), ("tiny-phi3", 32, 1)])
    func newFamiliesSizeTheirCache(fixture: String, headDimension: Int, kvHeads: Int) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Fixtures/\(fixture).gguf").path
        let file = try GGUFFile(path: path)
        let shape = try ModelShape(file: file)
        #expect(shape.layers == 2 && shape.headDimension == headDimension && shape.kvHeads == kvHeads)
        #expect(shape.kvElementsPerToken == 2 * 2 * kvHeads * headDimension)
        #expect(shape.parameters == Double(file.tensors.reduce(0) { $0 + $1.elementCount }))
    }

    @Test func referenceShapesInterpolate() {
        for reference in ReferenceShape.table {
            #expect(ReferenceShape.interpolated(billions: reference.billions).layers == reference.layers)
        }
        let between = ReferenceShape.interpolated(billions: 20)
        #expect(between.layers > 48 && between.layers < 64)
        #expect(ReferenceShape.interpolated(billions: 1000).layers > 126)
    }
}
