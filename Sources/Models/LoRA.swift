import GGUF
import Kernels

/// A LoRA adapter as llama.cpp's `convert_lora_to_gguf.py` writes it: `general.type = adapter`,
/// `adapter.type = lora`, `adapter.lora.alpha`, and for each adapted projection `NAME.lora_a`
/// (rank × columns) and `NAME.lora_b` (rows × rank), F32 or F16. Applied at run time as
/// y = W x + scale · B (A x), with scale = user scale · alpha / rank (user scale alone when
/// alpha is 0), as llama.cpp does; the base weights are never changed.
public struct LoRAAdapter: Sendable {
    public let path: String
    public let scale: Float
    public let alpha: Float
    let file: GGUFFile
    /// Base tensor name → its pair.
    let pairs: [String: (a: GGUFTensorInfo, b: GGUFTensorInfo)]

    public init(path: String, scale: Float = 1) throws {
        func fail(_ reason: String) -> ModelError { .invalidAdapter(path, reason) }
        guard scale.isFinite else { throw fail("the scale must be a finite number, got \(scale)") }
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw fail("\(error)") }
        guard file["general.type"]?.asString == "adapter" else {
            throw fail("not an adapter (general.type is \(file["general.type"]?.asString.map { "'\($0)'" } ?? "missing"), expected 'adapter')")
        }
        guard file["adapter.type"]?.asString == "lora" else {
            throw fail("adapter.type is \(file["adapter.type"]?.asString.map { "'\($0)'" } ?? "missing"), expected 'lora'")
        }
        var alpha: Float = 0
        if let value = file["adapter.lora.alpha"] {
            guard let number = value.asFloat ?? value.asInt.map(Double.init), number.isFinite, number >= 0 else {
                throw fail("adapter.lora.alpha must be a number ≥ 0")
            }
            alpha = Float(number)
        }
        var halves: [String: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for tensor in file.tensors {
            if tensor.name.hasSuffix(".lora_a") {
                halves[String(tensor.name.dropLast(7)), default: (nil, nil)].a = tensor
            } else if tensor.name.hasSuffix(".lora_b") {
                halves[String(tensor.name.dropLast(7)), default: (nil, nil)].b = tensor
            } else {
                throw fail("tensor '\(tensor.name)' is neither a lora_a nor a lora_b")
            }
        }
        guard !halves.isEmpty else { throw fail("it holds no LoRA tensors") }
        var pairs: [String: (a: GGUFTensorInfo, b: GGUFTensorInfo)] = [:]
        for (name, pair) in halves {
            guard let a = pair.a else { throw fail("'\(name).lora_b' has no '\(name).lora_a'") }
            guard let b = pair.b else { throw fail("'\(name).lora_a' has no '\(name).lora_b'") }
            for tensor in [a, b] where tensor.type != .f32 && tensor.type != .f16 {
                throw fail("tensor '\(tensor.name)' is \(tensor.type.name); adapters in F32 or F16 are supported")
            }
            guard a.dimensions.count == 2, b.dimensions.count == 2, a.dimensions[1] == b.dimensions[0], a.dimensions[1] > 0 else {
                throw fail("'\(name)': lora_a \(a.dimensions) and lora_b \(b.dimensions) do not share a rank")
            }
            pairs[name] = (a, b)
        }
        self.path = path
        self.scale = scale
        self.alpha = alpha
        self.file = file
        self.pairs = pairs
    }

    /// The architecture the adapter was made for, when it says.
    public var architecture: String? { file["general.architecture"]?.asString }

    /// The adapter's weights for `linear`, checked against its shape; nil when it has none.
    func weight(for linear: Linear) throws -> LoRAWeight? {
        guard let (a, b) = pairs[linear.name] else { return nil }
        let rank = a.dimensions[1]
        guard a.dimensions[0] == linear.columns, b.dimensions[1] == linear.rows else {
            throw ModelError.invalidAdapter(path, "'\(linear.name)' is \(linear.rows) × \(linear.columns) in the model, but "
                                            + "lora_a is \(a.dimensions) and lora_b \(b.dimensions) (expected [\(linear.columns), rank] and [rank, \(linear.rows)])")
        }
        return LoRAWeight(
            rank: rank, a: floats(a), b: floats(b), halfInputs: a.type == .f16, halfHidden: b.type == .f16,
            scale: alpha > 0 ? scale * alpha / Float(rank) : scale)
    }

    private func floats(_ tensor: GGUFTensorInfo) -> [Float] {
        let data = file.data(for: tensor)
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, count in
            for i in 0..<tensor.elementCount {
                buffer[i] = tensor.type == .f32 ? data.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                    : halfToFloat(data.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            }
            count = tensor.elementCount
        }
    }
}

/// One projection's LoRA pair, as floats.
struct LoRAWeight: Sendable {
    let rank: Int
    /// rank rows of `columns` values.
    let a: [Float]
    /// `rows` rows of `rank` values.
    let b: [Float]
    /// ggml multiplies an F16 tensor with its input rounded to binary16: so do we, to match it.
    let halfInputs: Bool
    let halfHidden: Bool
    let scale: Float

    /// output[r] += scale · Σ_k B[r, k] · Σ_c A[k, c] · input[c], for one row.
    func add(_ input: UnsafePointer<Float>, columns: Int, into output: UnsafeMutablePointer<Float>, rows: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: columns + rank) { scratch in
            let x = scratch.baseAddress!, hidden = x + columns
            for c in 0..<columns { x[c] = halfInputs ? halfToFloat(floatToHalf(input[c])) : input[c] }
            a.withUnsafeBufferPointer { a in
                for k in 0..<rank { hidden[k] = dotFloats(a.baseAddress! + k * columns, x, columns) }
            }
            if halfHidden { for k in 0..<rank { hidden[k] = halfToFloat(floatToHalf(hidden[k])) } }
            b.withUnsafeBufferPointer { b in
                for r in 0..<rows { output[r] += dotFloats(b.baseAddress! + r * rank, hidden, rank) * scale }
            }
        }
    }
}

/// Σ a[i] · b[i] in eight partial sums.
@inline(__always)
private func dotFloats(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var sums = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        sums += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var total = sums.sum()
    while i < count {
        total += a[i] * b[i]
        i += 1
    }
    return total
}

extension TransformerWeights {
    /// These weights with `adapters` attached to the projections they name. A tensor an adapter
    /// names that the model lacks, or one of another shape, is an error naming it; so is an
    /// adapter on the token embedding, which is read as a table, not multiplied.
    func applying(_ adapters: [LoRAAdapter], architecture: String) throws -> TransformerWeights {
        guard !adapters.isEmpty else { return self }
        var weights = self
        var unused = Set(adapters.flatMap { adapter in adapter.pairs.keys.map { "\(adapter.path)|\($0)" } })
        func attach(_ linear: inout Linear) throws {
            for adapter in adapters {
                guard let weight = try adapter.weight(for: linear) else { continue }
                linear.lora.append(weight)
                unused.remove("\(adapter.path)|\(linear.name)")
            }
        }
        for adapter in adapters {
            if let made = adapter.architecture, made != architecture {
                throw ModelError.invalidAdapter(adapter.path, "made for \(made), but the model is \(architecture)")
            }
            if adapter.pairs["token_embd.weight"] != nil {
                throw ModelError.invalidAdapter(adapter.path, "adapting the token embedding (token_embd.weight) is not supported")
            }
        }
        for index in weights.layers.indices {
            try attach(&weights.layers[index].query)
            try attach(&weights.layers[index].key)
            try attach(&weights.layers[index].value)
            try attach(&weights.layers[index].output)
            // Experts are not adapted: an adapter for them names tensors the loop never sees,
            // so it is refused below as adapting what the model does not have.
            if case .dense(var feedForward) = weights.layers[index].feedForward {
                try attach(&feedForward.gate)
                try attach(&feedForward.up)
                try attach(&feedForward.down)
                weights.layers[index].feedForward = .dense(feedForward)
            }
        }
        if weights.output.name != weights.tokenEmbedding.name { try attach(&weights.output) }
        if let first = unused.sorted().first {
            let parts = first.split(separator: "|", maxSplits: 1)
            throw ModelError.invalidAdapter(String(parts[0]), "it adapts '\(parts[1])', which the model does not have")
        }
        return weights
    }
}
