import GGUF
import Kernels

/// nomic-bert (`general.architecture = "nomic-bert"`: nomic-embed-text v1/v1.5) as llama.cpp's
/// src/models/nomic-bert.cpp builds it: token + token-type (row 0) embeddings, LayerNorm; per
/// layer a fused Q/K/V projection without biases, NeoX RoPE on Q and K, attention output,
/// LayerNorm, a SwiGLU feed-forward (`silu(gate x) · up x`, then down), LayerNorm.
enum NomicBert: EncoderArchitecture {
    static let name = "nomic-bert"

    static func load(_ file: GGUFFile, threads: Int) throws -> EncoderModel {
        let hp = try EncoderHyperparameters(file: file, architecture: name)
        let binder = TensorBinder(file: file)
        let width = hp.embeddingLength
        let layers = try (0..<hp.layerCount).map { index in
            let prefix = "blk.\(index)."
            func linear(_ name: String, rows: Int, columns: Int) throws -> Linear {
                try binder.linear(prefix + name + ".weight", rows: rows, columns: columns, bias: prefix + name + ".bias")
            }
            let fused = binder.has(prefix + "attn_qkv.weight")
            return EncoderLayerWeights(
                queryKeyValue: fused ? try linear("attn_qkv", rows: 3 * width, columns: width) : nil,
                query: fused ? nil : try linear("attn_q", rows: width, columns: width),
                key: fused ? nil : try linear("attn_k", rows: width, columns: width),
                value: fused ? nil : try linear("attn_v", rows: width, columns: width),
                output: try linear("attn_output", rows: width, columns: width),
                attentionOutputNorm: try LayerNormWeights(binder, prefix + "attn_output_norm", length: width),
                up: try linear("ffn_up", rows: hp.feedForwardLength, columns: width),
                gate: try binder.linear(prefix + "ffn_gate.weight", rows: hp.feedForwardLength, columns: width),
                down: try linear("ffn_down", rows: width, columns: hp.feedForwardLength),
                layerOutputNorm: try LayerNormWeights(binder, prefix + "layer_output_norm", length: width))
        }
        let weights = EncoderWeights(
            tokenEmbedding: try binder.linear("token_embd.weight", rows: hp.vocabularySize, columns: width),
            positionEmbedding: nil,
            tokenTypes: try Bert.tokenTypeEmbedding(binder, file: file, width: width),
            embeddingNorm: try LayerNormWeights(binder, "token_embd_norm", length: width),
            layers: layers)
        let baseKey = name + ".rope.freq_base"
        var base: Float = 10000
        if let value = file[baseKey] {
            guard let double = value.asFloat, double > 0, double.isFinite else {
                throw ModelError.invalidKey(baseKey, "expected a positive number, got \(value)")
            }
            base = Float(double)
        }
        // Rotated dimensions: the whole head unless the file says fewer (llama.cpp's n_rot).
        let dimensionKey = name + ".rope.dimension_count"
        var dimensions = hp.headDimension
        if let value = file[dimensionKey] {
            guard let int = value.asInt, int > 0, int <= hp.headDimension, int % 2 == 0 else {
                throw ModelError.invalidKey(dimensionKey, "expected an even count up to \(hp.headDimension), got \(value)")
            }
            dimensions = int
        }
        let rope: RotaryEmbedding
        do {
            rope = try RotaryEmbedding(dimensions: dimensions, base: base, style: .neox)
        } catch {
            throw ModelError.invalidKey(baseKey, error.description)
        }
        return EncoderModel(file: file, hyperparameters: hp, weights: weights, rope: rope, threads: threads)
    }
}
