import Foundation
import GGUF
import Kernels

/// A cross-encoder's classification head (a reranker: bge-reranker, ms-marco-MiniLM, jina-reranker),
/// llama.cpp's `cls` and `cls.output` tensors. The first token's ([CLS]) final state goes through
/// a dense layer and tanh (`cls`, RoBERTa-style heads), then a projection to the labels
/// (`cls.output`). Either part may be missing: jina-reranker has no `cls.output`, and llama.cpp's
/// converter keeps only `cls.output` of a `BertForSequenceClassification` (it drops the pooler).
/// The first label's value is the relevance score (llama-server's `embd[0]`).
struct ClassificationHead: Sendable {
    /// `cls.weight` (`width × width`) with `cls.bias`, then tanh.
    let dense: Linear?
    /// `cls.output.weight` (`labels × width`) with `cls.output.bias`.
    let output: Linear?

    /// Whether `file` carries a head (either tensor), read from the tensor table only.
    static func isPresent(in file: GGUFFile) -> Bool {
        file.tensor(named: "cls.weight") != nil || file.tensor(named: "cls.output.weight") != nil
    }

    /// The head `file` holds, or nil when it has neither tensor (an embedding model).
    static func bind(_ binder: TensorBinder, width: Int, labels: Int) throws -> ClassificationHead? {
        let dense = binder.has("cls.weight")
            ? try binder.linear("cls.weight", rows: width, columns: width, bias: "cls.bias") : nil
        let output = binder.has("cls.output.weight")
            ? try binder.linear("cls.output.weight", rows: labels, columns: width, bias: "cls.output.bias") : nil
        guard dense != nil || output != nil else { return nil }
        return ClassificationHead(dense: dense, output: output)
    }

    /// The head's values for one state of `width` values: `labels` of them (`width` when the
    /// file has no `cls.output`).
    func scores(of state: [Float], scratch: ScratchArena, pool: ThreadPool) -> [Float] {
        var current = state
        if let dense {
            var next = [Float](repeating: 0, count: dense.rows)
            current.withUnsafeBufferPointer { input in
                next.withUnsafeMutableBufferPointer { out in
                    dense.apply(input.baseAddress!, batch: 1, into: out.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                }
            }
            current = next.map { tanh($0) }
        }
        if let output {
            var next = [Float](repeating: 0, count: output.rows)
            current.withUnsafeBufferPointer { input in
                next.withUnsafeMutableBufferPointer { out in
                    output.apply(input.baseAddress!, batch: 1, into: out.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                }
            }
            current = next
        }
        return current
    }
}
