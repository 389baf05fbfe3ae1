/// Code completion between a prefix and a suffix ("fill in the middle"), for the models trained
/// for it. Their vocabularies hold three marker tokens; the prompt is prefix-suffix-middle
/// order (what llama.cpp's infill and Ollama's coder templates send), and the model writes
/// the middle.
public struct FillInTheMiddle: Sendable, Equatable {
    public let prefixToken: Int32
    public let suffixToken: Int32
    public let middleToken: Int32

    /// The marker spellings of the model families trained for it: Qwen2.5-Coder and
    /// StarCoder2 (`<|fim_…|>`), StarCoder and SantaCoder (`<fim_…>`), Code Llama, DeepSeek-Coder.
    public static let spellings: [(String, String, String)] = [
        ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
        ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
        ("▁<PRE>", "▁<SUF>", "▁<MID>"),
        ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    ]
}

extension LoadedModel {
    /// The model's fill-in-the-middle markers, or nil when it was not trained for it.
    public var fillInTheMiddle: FillInTheMiddle? {
        for (prefix, suffix, middle) in FillInTheMiddle.spellings {
            if let p = tokenizer.tokenID(forText: prefix), let s = tokenizer.tokenID(forText: suffix),
               let m = tokenizer.tokenID(forText: middle) {
                return FillInTheMiddle(prefixToken: p, suffixToken: s, middleToken: m)
            }
        }
        return nil
    }

    /// The prompt that asks for the code between `prefix` and `suffix`; nil when the model has no
    /// markers. Marker-like text inside the code stays text.
    public func fillInTheMiddlePrompt(prefix: String, suffix: String) -> [Int32]? {
        guard let markers = fillInTheMiddle else { return nil }
        var tokens: [Int32] = []
        if tokenizer.addsBOS, let bos = tokenizer.bosTokenID { tokens.append(bos) }
        tokens.append(markers.prefixToken)
        tokens += tokenizer.encode(prefix, addSpecial: false, parseSpecial: false)
        tokens.append(markers.suffixToken)
        tokens += tokenizer.encode(suffix, addSpecial: false, parseSpecial: false)
        tokens.append(markers.middleToken)
        return tokens
    }
}
