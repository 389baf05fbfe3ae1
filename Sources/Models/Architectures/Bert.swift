import GGUF
import Kernels

/// BERT (`general.architecture = "bert"`: all-MiniLM, bge, e5 …) as llama.cpp's
/// src/models/bert.cpp builds it: token + token-type (row 0) + absolute position embeddings,
/// LayerNorm; per layer separate Q/K/V with biases, attention output with bias, LayerNorm, a GELU
/// feed-forward with biases, LayerNorm. A cross-encoder (reranker) adds a classification head
/// (`cls`, `cls.output`) on the first token's state.
enum Bert: EncoderArchitecture {
    static let name = "bert"

    static func load(_ file: GGUFFile, threads: Int) throws -> EncoderModel {
        let hp = try EncoderHyperparameters(file: file, architecture: name)
        let binder = TensorBinder(file: file)
        let width = hp.embeddingLength
        let layers = try (0..<hp.layerCount).map { index in
            let prefix = "blk.\(index)."
            func linear(_ name: String, rows: Int, columns: Int) throws -> Linear {
                try binder.linear(prefix + name + ".weight", rows: rows, columns: columns, bias: prefix + name + ".bias")
            }
            return EncoderLayerWeights(
                queryKeyValue: nil,
                query: try linear("attn_q", rows: width, columns: width),
                key: try linear("attn_k", rows: width, columns: width),
                value: try linear("attn_v", rows: width, columns: width),
                output: try linear("attn_output", rows: width, columns: width),
                attentionOutputNorm: try LayerNormWeights(binder, prefix + "attn_output_norm", length: width),
                up: try linear("ffn_up", rows: hp.feedForwardLength, columns: width),
                gate: nil,
                down: try linear("ffn_down", rows: width, columns: hp.feedForwardLength),
                layerOutputNorm: try LayerNormWeights(binder, prefix + "layer_output_norm", length: width))
        }
        let weights = EncoderWeights(
            tokenEmbedding: try binder.linear("token_embd.weight", rows: hp.vocabularySize, columns: width),
            positionEmbedding: try binder.linear("position_embd.weight", rows: hp.contextLength, columns: width),
            tokenTypes: try tokenTypeEmbedding(binder, file: file, width: width),
            embeddingNorm: try LayerNormWeights(binder, "token_embd_norm", length: width),
            layers: layers,
            classifier: try ClassificationHead.bind(binder, width: width, labels: hp.classifierOutputCount))
        return EncoderModel(file: file, hyperparameters: hp, weights: weights, rope: nil, threads: threads)
    }

    /// `token_types.weight`, `tokenizer.ggml.token_type_count` rows (llama.cpp requires the count).
    static func tokenTypeEmbedding(_ binder: TensorBinder, file: GGUFFile, width: Int) throws -> Linear? {
        let key = "tokenizer.ggml.token_type_count"
        guard let value = file[key] else { throw ModelError.missingKey(key) }
        guard let count = value.asInt, count > 0, count <= 1024 else {
            throw ModelError.invalidKey(key, "expected a positive count, got \(value)")
        }
        return binder.has("token_types.weight") ? try binder.linear("token_types.weight", rows: count, columns: width) : nil
    }
}
