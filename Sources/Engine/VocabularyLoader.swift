import GGUF
import Tokenizers

/// Errors of the engine layer: what was asked of a model that it cannot do.
public enum EngineError: Error, CustomStringConvertible, Equatable, Sendable {
    case missingKey(String)
    case invalidKey(String, String)
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case invalidOption(String, String)
    case invalidToken(Int32, vocabularySize: Int)
    case unsupportedCPU(kernels: String, missing: [String])

    public var description: String {
        switch self {
        case .missingKey(let key): return "metadata key '\(key)' is missing"
        case .invalidKey(let key, let reason): return "metadata key '\(key)': \(reason)"
        case .promptTooLong(let tokens, let context):
            return "prompt is \(tokens) tokens, longer than the context of \(context) tokens (raise --ctx)"
        case .emptyPrompt: return "prompt is empty"
        case .invalidOption(let name, let reason): return "invalid \(name): \(reason)"
        case .invalidToken(let token, let size): return "token id \(token) is not in the model's vocabulary of \(size) tokens"
        case .unsupportedCPU(let kernels, let missing):
            return "this build's \(kernels) kernels need CPU instructions this CPU lacks (\(missing.joined(separator: ", "))): "
                + "build Hearth on this machine, or with HEARTH_PORTABLE_KERNELS=1"
        }
    }
}

extension Vocabulary {
    /// Reads `tokenizer.ggml.*` from a GGUF file; every present key must have the right type.
    public init(file: GGUFFile) throws {
        func array(_ key: String) throws -> GGUFArray? {
            guard let value = file[key] else { return nil }
            guard let array = value.asArray else { throw EngineError.invalidKey(key, "expected an array") }
            return array
        }
        func id(_ key: String) throws -> Int32? {
            guard let value = file[key] else { return nil }
            guard let int = value.asInt else { throw EngineError.invalidKey(key, "expected a token id, got \(value)") }
            // Like llama.cpp, an id no vocabulary could hold is ignored (the default applies);
            // the tokenizer itself warns about ids past the end of this vocabulary.
            return Int32(exactly: int)
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = file[key] else { return nil }
            guard let bool = value.asBool else { throw EngineError.invalidKey(key, "expected a boolean, got \(value)") }
            return bool
        }

        guard let modelValue = file["tokenizer.ggml.model"] else { throw EngineError.missingKey("tokenizer.ggml.model") }
        guard let modelName = modelValue.asString, let model = TokenizerModel(rawValue: modelName) else {
            throw EngineError.invalidKey(
                "tokenizer.ggml.model",
                "unsupported tokenizer \(modelValue) (supported: \(TokenizerModel.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let tokenArray = try array("tokenizer.ggml.tokens") else { throw EngineError.missingKey("tokenizer.ggml.tokens") }
        guard let tokens = tokenArray.asStrings else { throw EngineError.invalidKey("tokenizer.ggml.tokens", "expected strings") }
        let scores = try array("tokenizer.ggml.scores")
        let types = try array("tokenizer.ggml.token_type")
        let merges = try array("tokenizer.ggml.merges")
        if let scores, scores.asFloats == nil { throw EngineError.invalidKey("tokenizer.ggml.scores", "expected numbers") }
        if let types, types.asInt32s == nil { throw EngineError.invalidKey("tokenizer.ggml.token_type", "expected integers") }
        if let merges, merges.asStrings == nil { throw EngineError.invalidKey("tokenizer.ggml.merges", "expected strings") }
        var preTokenizer: String?
        if let value = file["tokenizer.ggml.pre"] {
            guard let name = value.asString else { throw EngineError.invalidKey("tokenizer.ggml.pre", "expected a string") }
            preTokenizer = name
        }
        self.init(
            model: model, tokens: tokens, scores: scores?.asFloats, tokenTypes: types?.asInt32s,
            merges: merges?.asStrings, preTokenizer: preTokenizer,
            bosTokenID: try id("tokenizer.ggml.bos_token_id"), eosTokenID: try id("tokenizer.ggml.eos_token_id"),
            eotTokenID: try id("tokenizer.ggml.eot_token_id"), eomTokenID: try id("tokenizer.ggml.eom_token_id"),
            unknownTokenID: try id("tokenizer.ggml.unknown_token_id"),
            paddingTokenID: try id("tokenizer.ggml.padding_token_id"),
            fimPadTokenID: try id("tokenizer.ggml.fim_pad_token_id"),
            fimRepoTokenID: try id("tokenizer.ggml.fim_rep_token_id"),
            fimSeparatorTokenID: try id("tokenizer.ggml.fim_sep_token_id"),
            addBOS: try flag("tokenizer.ggml.add_bos_token"), addEOS: try flag("tokenizer.ggml.add_eos_token"),
            addSeparator: try flag("tokenizer.ggml.add_sep_token"),
            addSpacePrefix: try flag("tokenizer.ggml.add_space_prefix"),
            separatorTokenID: try id("tokenizer.ggml.seperator_token_id"),
            lowercase: try flag("tokenizer.ggml.normalizer.lowercase"),
            stripAccents: try flag("tokenizer.ggml.normalizer.strip_accents"),
            modelName: file["general.name"]?.asString)
    }
}
