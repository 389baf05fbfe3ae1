import Foundation
import Kernels

/// A mixture-of-experts feed-forward (qwen3moe, Mixtral-style llama): a router scores every
/// expert for each token, the `expertsUsed` best run their own gated MLP on it, and their
/// outputs are added, weighted by the router's probabilities.
///
/// Each expert is a slice of three 3-D tensors (`ffn_gate_exps`, `ffn_up_exps`, `ffn_down_exps`,
/// GGUF dimensions `[columns, rows, experts]`), so an expert's matrix is a plain view into the
/// mapped file.
public struct MixtureOfExperts: Sendable {
    /// `ffn_gate_inp`: one row of router logits per expert (and `ffn_gate_inp.bias`, gpt-oss).
    let router: Linear
    /// Each expert's projections, with its row of `ffn_{gate,up,down}_exps.bias` when the file
    /// has them (gpt-oss).
    let gates: [Linear]
    let ups: [Linear]
    let downs: [Linear]
    let expertsUsed: Int
    /// Whether the chosen experts' probabilities are divided by their sum (qwen3moe, Mixtral).
    let normalizesWeights: Bool
    /// Multiplies the weights after normalising (`expert_weights_scale`); nil for none.
    let weightsScale: Float?
    var selection: ExpertSelection = .softmaxThenBest
    var activation: ExpertActivation = .swiGLU

    var expertCount: Int { router.rows }
    var hiddenLength: Int { gates[0].rows }
}

/// How the router's logits choose and weight the experts (llama.cpp's gating functions).
public enum ExpertSelection: Sendable {
    /// Softmax over every expert, the most probable chosen, weighted by their probabilities
    /// (qwen3moe, Mixtral: `LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX`).
    case softmaxThenBest
    /// The highest logits chosen, weighted by a softmax over the chosen logits alone
    /// (gpt-oss: `LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT`).
    case bestThenSoftmax
}

/// The activation between an expert's gate and up projections.
public enum ExpertActivation: Sendable {
    /// silu(gate) · up.
    case swiGLU
    /// gpt-oss's clamped SwiGLU (ggml's `swiglu_oai`): with g = min(gate, limit) and
    /// u = clamp(up, -limit, limit), g · σ(alpha · g) · (u + 1).
    case clampedSwiGLU(alpha: Float, limit: Float)

    /// Activates `count` gate values in place with their up values.
    func apply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        switch self {
        case .swiGLU:
            swiglu(gate: UnsafeBufferPointer(start: gate, count: count), up: UnsafeBufferPointer(start: up, count: count),
                   into: UnsafeMutableBufferPointer(start: gate, count: count))
        case .clampedSwiGLU(let alpha, let limit):
            for k in 0..<count {
                let x = min(gate[k], limit)
                let y = min(max(up[k], -limit), limit)
                let glu = x / (1 + expf(alpha * -x))
                gate[k] = glu * (y + 1)
            }
        }
    }
}

extension TensorBinder {
    /// The experts of layer `index` (`ffn_gate_inp`, `ffn_{gate,up,down}_exps`).
    /// `hiddenLength`: one expert's hidden width (`expert_feed_forward_length` unless the
    /// architecture says otherwise).
    /// `biases`: the router and the experts have biases (`ffn_gate_inp.bias`, `ffn_*_exps.bias`).
    func mixtureOfExperts(layer index: Int, _ hp: Hyperparameters, hiddenLength: Int? = nil,
                          normalizesWeights: Bool = true, biases: Bool = false) throws -> MixtureOfExperts {
        let p = "blk.\(index)."
        let embedding = hp.embeddingLength, hidden = hiddenLength ?? hp.expertFeedForwardLength, count = hp.expertCount
        var scale: Float?
        let scaleKey = hp.architecture + ".expert_weights_scale"
        if let value = file[scaleKey] {
            guard let double = value.asFloat, double.isFinite else {
                throw ModelError.invalidKey(scaleKey, "expected a finite number, got \(value)")
            }
            if double != 0 && double != 1 { scale = Float(double) }
        }
        func bias(_ name: String) -> String? { biases ? p + name + ".bias" : nil }
        if biases {
            for name in ["ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"] where !has(p + name + ".bias") {
                throw ModelError.missingTensor(p + name + ".bias")
            }
        }
        return MixtureOfExperts(
            router: try linear(p + "ffn_gate_inp.weight", rows: count, columns: embedding, bias: bias("ffn_gate_inp")),
            gates: try experts(p + "ffn_gate_exps.weight", count: count, rows: hidden, columns: embedding, bias: bias("ffn_gate_exps")),
            ups: try experts(p + "ffn_up_exps.weight", count: count, rows: hidden, columns: embedding, bias: bias("ffn_up_exps")),
            downs: try experts(p + "ffn_down_exps.weight", count: count, rows: embedding, columns: hidden, bias: bias("ffn_down_exps")),
            expertsUsed: hp.expertsUsed, normalizesWeights: normalizesWeights, weightsScale: scale)
    }

    /// `count` matrices of `rows × columns` stacked in one tensor of dimensions `[columns, rows, count]`;
    /// `biasName`: their biases, one row of `rows` per expert (dimensions `[rows, count]`).
    func experts(_ name: String, count: Int, rows: Int, columns: Int, bias biasName: String? = nil) throws -> [Linear] {
        let biases = try biasName.map { try vectors($0, length: rows, count: count) }
        guard let info = file.tensor(named: name) else { throw ModelError.missingTensor(name) }
        guard info.dimensions == [columns, rows, count] else {
            throw ModelError.tensorShape(name, expected: [columns, rows, count], found: info.dimensions)
        }
        let data = file.data(for: info)
        guard let base = data.baseAddress, data.count % count == 0 else { throw ModelError.tensorType(name, info.type.name) }
        let bytesPerExpert = data.count / count
        return try (0..<count).map { expert in
            do {
                let matrix = try WeightMatrix(
                    name: "\(name)[\(expert)]", ggmlType: info.type.rawValue, rows: rows, columns: columns,
                    data: base + expert * bytesPerExpert, byteCount: bytesPerExpert)
                return Linear(matrix: matrix, bias: biases?[expert])
            } catch {
                throw ModelError.tensorType(name, "\(info.type.name): \(error)")
            }
        }
    }
}

extension TensorBinder {
    /// `count` vectors of `length` values stacked in one tensor of dimensions `[length, count]`,
    /// converted to Float once at load.
    func vectors(_ name: String, length: Int, count: Int) throws -> [[Float]] {
        guard let info = file.tensor(named: name) else { throw ModelError.missingTensor(name) }
        guard info.dimensions == [length, count] else {
            throw ModelError.tensorShape(name, expected: [length, count], found: info.dimensions)
        }
        guard let format = blockFormat(ggmlType: info.type.rawValue), let rowBytes = format.rowByteCount(columns: length),
            rowBytes * count == info.byteCount
        else { throw ModelError.tensorType(name, info.type.name) }
        let data = file.data(for: info)
        guard let base = data.baseAddress else { throw ModelError.missingTensor(name) }
        return (0..<count).map { row in
            [Float](unsafeUninitializedCapacity: length) { buffer, initialized in
                format.dequantize(row: base + row * rowBytes, count: length, into: buffer.baseAddress!)
                initialized = length
            }
        }
    }
}

/// Working memory of the expert feed-forward for one batch, grown to the largest batch seen.
final class ExpertScratch: @unchecked Sendable {
    private(set) var capacity = 0
    private(set) var routerLogits: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    /// Per row, the chosen experts and their weights, best first.
    private(set) var chosen: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
    private(set) var weights: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    /// The rows routed to one expert, gathered; its gate (then activation) and up outputs.
    private(set) var gathered: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var gate: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var up: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    /// Each (row, chosen slot)'s expert output, `embedding` wide.
    private(set) var outputs: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var expertOutput: UnsafeMutablePointer<Float> = .allocate(capacity: 1)

    func reserve(batch: Int, experts: MixtureOfExperts, embedding: Int) {
        guard batch > capacity || capacity == 0 else { return }
        deallocateAll()
        let used = experts.expertsUsed, hidden = experts.hiddenLength
        routerLogits = .allocate(capacity: batch * experts.expertCount)
        chosen = .allocate(capacity: batch * used)
        weights = .allocate(capacity: batch * used)
        gathered = .allocate(capacity: batch * embedding)
        gate = .allocate(capacity: batch * hidden)
        up = .allocate(capacity: batch * hidden)
        outputs = .allocate(capacity: batch * used * embedding)
        expertOutput = .allocate(capacity: batch * embedding)
        capacity = batch
    }

    private func deallocateAll() {
        for pointer in [routerLogits, weights, gathered, gate, up, outputs, expertOutput] { pointer.deallocate() }
        chosen.deallocate()
    }

    deinit { deallocateAll() }
}

extension TransformerModel {
    /// The expert feed-forward of `n` normed rows (`buffers.normed`) into `buffers.projected`, in
    /// llama.cpp's `build_moe_ffn` order: router logits, softmax, the best `expertsUsed` by
    /// probability, their probabilities normalised to sum 1, each chosen expert's SwiGLU MLP,
    /// and the weighted outputs added in the order the experts were chosen.
    ///
    /// Rows are grouped by expert so each expert's weights are read once per batch. llama.cpp
    /// multiplies experts one row at a time whatever the batch (`mul_mat_id`), so the experts'
    /// products take single rows' order; the router is an ordinary product (`orders`).
    func expertFeedForward(_ experts: MixtureOfExperts, batch n: Int, orders: [RowOrder]?) {
        let b = buffers
        let embedding = hyperparameters.embeddingLength
        let scratch = b.experts
        scratch.reserve(batch: n, experts: experts, embedding: embedding)
        let count = experts.expertCount, used = experts.expertsUsed
        experts.router.apply(b.normed, batch: n, into: scratch.routerLogits, scratch: b.arena, pool: pool,
                             order: productOrder, rowOrders: orders)
        var rowsOfExpert = [[(row: Int, slot: Int)]](repeating: [], count: count)
        for row in 0..<n {
            Self.route(scratch.routerLogits + row * count, count: count, experts: experts,
                       chosen: scratch.chosen + row * used, weights: scratch.weights + row * used)
            for slot in 0..<used { rowsOfExpert[scratch.chosen[row * used + slot]].append((row, slot)) }
        }
        if n <= Self.fewRows {
            runExpertsTogether(experts, rowsOfExpert: rowsOfExpert, scratch: scratch)
        } else {
            runExpertsInTurn(experts, rowsOfExpert: rowsOfExpert, scratch: scratch)
        }
        // ggml adds the weighted expert outputs one view after another: ((e0 + e1) + e2) + …
        for row in 0..<n {
            let out = b.projected + row * embedding
            out.update(from: scratch.outputs + row * used * embedding, count: embedding)
            for slot in 1..<max(used, 1) {
                let term = scratch.outputs + (row * used + slot) * embedding
                for d in 0..<embedding { out[d] = out[d] + term[d] }
            }
        }
    }

    /// Batches of up to this many rows run all their experts' products in one parallel pass per
    /// projection (decode: a few rows, each expert's matrices too small to split well alone).
    static let fewRows = 4

    /// Each chosen expert's MLP in turn, its rows together, each product split between threads.
    private func runExpertsInTurn(_ experts: MixtureOfExperts, rowsOfExpert: [[(row: Int, slot: Int)]], scratch: ExpertScratch) {
        let b = buffers
        let embedding = hyperparameters.embeddingLength
        let used = experts.expertsUsed, hidden = experts.hiddenLength
        for expert in 0..<experts.expertCount where !rowsOfExpert[expert].isEmpty {
            let members = rowsOfExpert[expert]
            for (index, member) in members.enumerated() {
                (scratch.gathered + index * embedding).update(from: b.normed + member.row * embedding, count: embedding)
            }
            let m = members.count
            experts.gates[expert].apply(scratch.gathered, batch: m, into: scratch.gate, scratch: b.arena, pool: pool, order: productOrder)
            experts.ups[expert].apply(scratch.gathered, batch: m, into: scratch.up, scratch: b.arena, pool: pool, order: productOrder)
            experts.activation.apply(gate: scratch.gate, up: scratch.up, count: m * hidden)
            experts.downs[expert].apply(scratch.gate, batch: m, into: scratch.expertOutput, scratch: b.arena, pool: pool,
                                        order: productOrder)
            for (index, member) in members.enumerated() {
                let weight = scratch.weights[member.row * used + member.slot]
                let source = scratch.expertOutput + index * embedding
                let target = scratch.outputs + (member.row * used + member.slot) * embedding
                for d in 0..<embedding { target[d] = source[d] * weight }
            }
        }
    }

    /// Every chosen expert's MLP at once: one parallel pass over all their gate and up rows, one
    /// over all their down rows. Each output row is the same dot as in `runExpertsInTurn`.
    private func runExpertsTogether(_ experts: MixtureOfExperts, rowsOfExpert: [[(row: Int, slot: Int)]], scratch: ExpertScratch) {
        let b = buffers
        let embedding = hyperparameters.embeddingLength
        let used = experts.expertsUsed, hidden = experts.hiddenLength
        let active = (0..<experts.expertCount).filter { !rowsOfExpert[$0].isEmpty }
        // Per active expert: its rows' inputs quantised, its gate/up outputs, its down input and output.
        let inputs = active.map { expert in
            let members = rowsOfExpert[expert]
            let floats = [Float](unsafeUninitializedCapacity: members.count * embedding) { buffer, count in
                for (index, member) in members.enumerated() {
                    (buffer.baseAddress! + index * embedding).update(from: b.normed + member.row * embedding, count: embedding)
                }
                count = members.count * embedding
            }
            // Widths were checked when the expert was bound.
            let quantised = try! QuantizedActivations(format: experts.gates[expert].matrix.format.activationFormat,
                                                      columns: embedding, capacity: members.count)
            floats.withUnsafeBufferPointer { quantised.quantize($0, rows: members.count) }
            return quantised
        }
        let gates = active.map { rowsOfExpert[$0].count * hidden }.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
        let ups = active.map { rowsOfExpert[$0].count * hidden }.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
        let downs = active.map { rowsOfExpert[$0].count * embedding }.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
        defer { for pointer in gates + ups + downs { pointer.deallocate() } }

        // Gate and up: tasks of `block` weight rows of one expert's matrix.
        let block = 64
        struct Task { let index: Int; let matrix: WeightMatrix; let first: Int; let count: Int; let output: UnsafeMutablePointer<Float>; let width: Int }
        func tasks(_ matrices: [WeightMatrix], outputs: [UnsafeMutablePointer<Float>], width: Int) -> [Task] {
            var list: [Task] = []
            for (index, matrix) in matrices.enumerated() {
                for first in stride(from: 0, to: matrix.rows, by: block) {
                    list.append(Task(index: index, matrix: matrix, first: first, count: min(block, matrix.rows - first),
                                     output: outputs[index], width: width))
                }
            }
            return list
        }
        let order = productOrder
        func run(_ list: [Task], activations: [QuantizedActivations]) {
            pool.parallelFor(list.count) { range in
                for task in list[range] {
                    let rowsIn = activations[task.index].rows
                    // Shapes were checked when the expert was bound, so the view is valid.
                    let view = try! WeightMatrix(name: task.matrix.name, format: task.matrix.format, rows: task.count,
                                                 columns: task.matrix.columns, data: task.matrix.row(task.first),
                                                 byteCount: task.count * task.matrix.rowByteCount)
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: rowsIn * task.count) { part in
                        view.multiply(activations[task.index], into: part, pool: nil, order: order)
                        for row in 0..<rowsIn {
                            (task.output + row * task.width + task.first).update(from: part.baseAddress! + row * task.count, count: task.count)
                        }
                    }
                }
            }
        }
        run(tasks(active.map { experts.gates[$0].matrix }, outputs: gates, width: hidden)
            + tasks(active.map { experts.ups[$0].matrix }, outputs: ups, width: hidden), activations: inputs + inputs)
        // The products ran on the bare matrices: each expert's bias, added as `Linear.apply` adds it.
        func addBias(_ bias: [Float]?, to output: UnsafeMutablePointer<Float>, rows m: Int, width: Int) {
            guard let bias else { return }
            for row in 0..<m {
                for d in 0..<width { output[row * width + d] += bias[d] }
            }
        }
        let hiddenInputs = active.enumerated().map { index, expert in
            let m = rowsOfExpert[expert].count
            addBias(experts.gates[expert].bias, to: gates[index], rows: m, width: hidden)
            addBias(experts.ups[expert].bias, to: ups[index], rows: m, width: hidden)
            experts.activation.apply(gate: gates[index], up: ups[index], count: m * hidden)
            let quantised = try! QuantizedActivations(format: experts.downs[expert].matrix.format.activationFormat,
                                                      columns: hidden, capacity: m)
            quantised.quantize(UnsafeBufferPointer(start: gates[index], count: m * hidden), rows: m)
            return quantised
        }
        run(tasks(active.map { experts.downs[$0].matrix }, outputs: downs, width: embedding), activations: hiddenInputs)
        for (index, expert) in active.enumerated() {
            addBias(experts.downs[expert].bias, to: downs[index], rows: rowsOfExpert[expert].count, width: embedding)
        }
        for (index, expert) in active.enumerated() {
            for (position, member) in rowsOfExpert[expert].enumerated() {
                let weight = scratch.weights[member.row * used + member.slot]
                let source = downs[index] + position * embedding
                let target = scratch.outputs + (member.row * used + member.slot) * embedding
                for d in 0..<embedding { target[d] = source[d] * weight }
            }
        }
    }

    /// One row's routing: the `expertsUsed` experts the router's logits choose (ties to the
    /// lower index) and their weights, as `experts.selection` says — a softmax over all
    /// experts then the most probable, their probabilities normalised and scaled (qwen3moe); or
    /// the highest logits, weighted by a softmax over them alone (gpt-oss).
    static func route(_ logits: UnsafeMutablePointer<Float>, count: Int, experts: MixtureOfExperts,
                      chosen: UnsafeMutablePointer<Int>, weights: UnsafeMutablePointer<Float>) {
        if case .softmaxThenBest = experts.selection { ggmlSoftmax(logits, count: count) }
        let used = experts.expertsUsed
        let order = (0..<count).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        for slot in 0..<used {
            chosen[slot] = order[slot]
            weights[slot] = logits[order[slot]]
        }
        if case .bestThenSoftmax = experts.selection { ggmlSoftmax(weights, count: used) }
        if experts.normalizesWeights {
            var total: Double = 0
            for slot in 0..<used { total += Double(weights[slot]) }
            // ggml clamps the sum to binary16's smallest normal before dividing.
            let divisor = max(Float(total), 6.103515625e-5)
            for slot in 0..<used { weights[slot] /= divisor }
        }
        if let scale = experts.weightsScale {
            for slot in 0..<used { weights[slot] *= scale }
        }
    }

    /// `ggml_soft_max` of one row in place, as ggml computes it (the sum in Double).
    static func ggmlSoftmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for e in 0..<count { maximum = max(maximum, values[e]) }
        // ggml_vec_soft_max_f32 on AVX-512: sixteen lanes at a time through its vector e^x,
        // each group summed in Float by the register's halving reduction, the rest through expf.
        var sum: Double = 0
        var start = 0
        while start + 16 <= count {
            var lanes = [Float](repeating: 0, count: 16)
            for lane in 0..<16 {
                lanes[lane] = ggmlExp(values[start + lane] - maximum)
                values[start + lane] = lanes[lane]
            }
            var width = 8
            while width >= 1 {
                for lane in 0..<width { lanes[lane] = lanes[lane] + lanes[lane + width] }
                width /= 2
            }
            sum += Double(lanes[0])
            start += 16
        }
        for e in start..<count {
            let value = expf(values[e] - maximum)
            values[e] = value
            sum += Double(value)
        }
        let inverse = Float(1 / sum)
        for e in 0..<count { values[e] *= inverse }
    }
}
