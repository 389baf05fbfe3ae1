import ArgumentParser
import Engine
import Foundation

/// `--lora FILE[:SCALE]`, repeatable: LoRA adapters (llama.cpp's GGUF adapter format) added to the
/// model at run time, as llama.cpp's `--lora` and `--lora-scaled` do.
struct LoRAOptions: ParsableArguments {
    @Option(name: .customLong("lora"), help: "A LoRA adapter (.gguf, llama.cpp's format) with an optional scale: FILE or FILE:SCALE (repeatable).")
    var lora: [String] = []

    /// The adapters, opened and checked (their shapes are checked against the model when it loads).
    func adapters() throws -> [LoRAAdapter] {
        try lora.map { argument in
            var path = argument
            var scale: Float = 1
            if let colon = argument.lastIndex(of: ":"), let value = Float(argument[argument.index(after: colon)...]) {
                path = String(argument[..<colon])
                scale = value
            }
            do {
                return try LoRAAdapter(path: (path as NSString).expandingTildeInPath, scale: scale)
            } catch {
                throw ValidationErrorMessage("--lora \(argument): \(error)")
            }
        }
    }
}
