import Foundation

/// The check `hearth pull` and model loading make before spending time on a model that cannot
/// run here: the same memory estimate `hearth fit` prints, against this machine's usable memory.
public enum FitGate {
    /// Context the check assumes when the command has none: a short conversation. A model that
    /// fails even this cannot run; longer contexts are checked by `hearth fit --ctx N`.
    public static let defaultContext = 512

    /// Setting this environment variable to 1 skips the check (the memory estimate may be wrong
    /// for an unusual model, or the user knows swap will do).
    public static let overrideVariable = "HEARTH_IGNORE_FIT"

    public static var isOverridden: Bool {
        ProcessInfo.processInfo.environment[overrideVariable] == "1"
    }

    /// Nil when the model fits, else a one-paragraph refusal with the numbers.
    public static func refusal(model name: String, shape: ModelShape, context: Int = defaultContext,
                               target: Target, estimated: Bool = false, howToOverride: String) -> String? {
        let context = CostModel.effectiveContext(shape, requested: context)
        let memory = CostModel.memory(shape, context: context)
        guard memory.total > target.usableMemoryBytes else { return nil }
        let gb = { (bytes: Double) in String(format: "%.2f GB", bytes / 1e9) }
        let parts = "weights \(gb(memory.weights)) + KV cache \(gb(memory.kvCache)) at \(context) tokens + buffers \(gb(memory.buffers)) + runtime \(gb(memory.runtime))"
        return """
            \(name) does not fit in memory: it needs \(estimated ? "about " : "")\(gb(memory.total)) (\(parts)), \
            but \(gb(target.usableMemoryBytes)) of \(gb(target.totalMemoryBytes)) is usable here (\(target.usableReason)). \
            See `hearth fit`; \(howToOverride).
            """
    }

    /// A shape for a model known only by its file size (a catalog entry not yet downloaded):
    /// parameters from the size at `bitsPerWeight`, the rest from the reference shapes.
    public static func estimatedShape(fileBytes: Double, bitsPerWeight: Double = 4.8944) -> ModelShape {
        let billions = fileBytes * 8 / bitsPerWeight / 1e9
        let generic = GenericModel.dense(billions: billions)
        var shape = generic.shape(Quantization(name: "estimate", bitsPerWeight: bitsPerWeight))
        shape.weightBytes = fileBytes
        shape.bytesPerToken = fileBytes
        return shape
    }
}
