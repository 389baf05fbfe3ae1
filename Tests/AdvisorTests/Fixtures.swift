import Foundation
import GGUF

/// Writes a tiny llama-shaped GGUF (F32 tensors, zeros) and returns its path; the caller removes it.
enum TinyModel {
    struct Spec {
        var layers = 2
        var embedding = 8
        var heads = 4
        var kvHeads = 2
        var feedForward = 16
        var vocabulary = 10
        var context = 64
        var tied = false
        var experts = 0
        var expertsUsed = 0
        var architecture = "llama"
        var omitBlockCount = false
        var merges = 0
    }

    static func write(_ spec: Spec = Spec()) throws -> String {
        var writer = GGUFWriter()
        let a = spec.architecture
        writer.add(key: "general.architecture", .string(a))
        if !spec.omitBlockCount { writer.add(key: "\(a).block_count", .uint32(UInt32(spec.layers))) }
        writer.add(key: "\(a).embedding_length", .uint32(UInt32(spec.embedding)))
        writer.add(key: "\(a).feed_forward_length", .uint32(UInt32(spec.feedForward)))
        writer.add(key: "\(a).attention.head_count", .uint32(UInt32(spec.heads)))
        writer.add(key: "\(a).attention.head_count_kv", .uint32(UInt32(spec.kvHeads)))
        writer.add(key: "\(a).context_length", .uint32(UInt32(spec.context)))
        if spec.experts > 0 {
            writer.add(key: "\(a).expert_count", .uint32(UInt32(spec.experts)))
            writer.add(key: "\(a).expert_used_count", .uint32(UInt32(spec.expertsUsed)))
        }
        writer.add(key: "tokenizer.ggml.tokens", .array(GGUFArray(strings: (0..<spec.vocabulary).map { "t\($0)" })))
        if spec.merges > 0 {
            writer.add(key: "tokenizer.ggml.merges", .array(GGUFArray(strings: (0..<spec.merges).map { "t\($0) t\($0)" })))
        }

        func tensor(_ name: String, _ dimensions: [Int]) {
            let count = dimensions.reduce(1, *)
            writer.add(tensor: name, type: .f32, dimensions: dimensions, data: [UInt8](repeating: 0, count: count * 4))
        }
        let e = spec.embedding, headDimension = spec.embedding / spec.heads
        tensor("token_embd.weight", [e, spec.vocabulary])
        if !spec.tied { tensor("output.weight", [e, spec.vocabulary]) }
        tensor("output_norm.weight", [e])
        for layer in 0..<spec.layers {
            tensor("blk.\(layer).attn_q.weight", [e, e])
            tensor("blk.\(layer).attn_k.weight", [e, spec.kvHeads * headDimension])
            if spec.experts > 0 {
                tensor("blk.\(layer).ffn_up_exps.weight", [e, spec.feedForward, spec.experts])
            } else {
                tensor("blk.\(layer).ffn_up.weight", [e, spec.feedForward])
            }
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("advisor-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        return path
    }
}
