/// The tokenizer algorithm a vocabulary was built for (GGUF `tokenizer.ggml.model`).
public enum TokenizerModel: String, Sendable, CaseIterable {
    /// SentencePiece with byte fallback (`"llama"`): Llama 2, Gemma, Phi-3, Mistral v1 …
    case sentencePiece = "llama"
    /// Byte-level BPE over GPT-2's byte↔unicode map (`"gpt2"`): GPT-2, Llama 3, Qwen, SmolLM …
    case bytePairEncoding = "gpt2"
    /// BERT's WordPiece (`"bert"`), vocabulary in llama.cpp's phantom-space form: all-MiniLM,
    /// nomic-embed-text, bge …
    case wordPiece = "bert"
}

/// A token's type as GGUF stores it in `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
public enum TokenType: Int32, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// Everything a ``Tokenizer`` needs, as plain values (no file format): the caller fills it from the
/// `tokenizer.ggml.*` metadata of a GGUF file. Absent optional values take llama.cpp's defaults.
///
/// ```swift
/// let vocabulary = Vocabulary(model: .bytePairEncoding, tokens: tokens, merges: merges,
///                             preTokenizer: "qwen2", eosTokenID: 151645)
/// let tokenizer = try Tokenizer(vocabulary: vocabulary)
/// ```
public struct Vocabulary: Sendable {
    /// `tokenizer.ggml.model`.
    public var model: TokenizerModel
    /// `tokenizer.ggml.tokens`: token texts, indexed by token id. Only their UTF-8 bytes are used.
    public var tokens: [String]
    /// `tokenizer.ggml.scores`: SentencePiece merge priorities (higher merges first).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: raw ``TokenType`` values (unknown values count as undefined).
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges`: BPE merge rules `"left right"`, highest priority first.
    public var merges: [String]?
    /// `tokenizer.ggml.pre`: the pre-tokenizer name (BPE only), e.g. `"llama-bpe"`, `"qwen2"`, `"smollm"`.
    public var preTokenizer: String?
    /// `tokenizer.ggml.bos_token_id`.
    public var bosTokenID: Int32?
    /// `tokenizer.ggml.eos_token_id`.
    public var eosTokenID: Int32?
    /// `tokenizer.ggml.eot_token_id` (found by text, like `<|im_end|>`, when absent).
    public var eotTokenID: Int32?
    /// `tokenizer.ggml.eom_token_id` (found by text, `<|eom_id|>`, when absent).
    public var eomTokenID: Int32?
    /// `tokenizer.ggml.unknown_token_id`.
    public var unknownTokenID: Int32?
    /// `tokenizer.ggml.padding_token_id`.
    public var paddingTokenID: Int32?
    /// `tokenizer.ggml.fim_pad_token_id`, `fim_rep_token_id`, `fim_sep_token_id`: fill-in-the-middle
    /// tokens that also end generation (found by text when absent).
    public var fimPadTokenID: Int32?
    public var fimRepoTokenID: Int32?
    public var fimSeparatorTokenID: Int32?
    /// `tokenizer.ggml.add_bos_token`.
    public var addBOS: Bool?
    /// `tokenizer.ggml.add_eos_token`.
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_sep_token`: a separator goes between the two texts of a pair
    /// (llama.cpp's default: true for WordPiece, false otherwise).
    public var addSeparator: Bool?
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece: prepend a space to text that starts a prompt
    /// or follows a special token).
    public var addSpacePrefix: Bool?
    /// `tokenizer.ggml.seperator_token_id` (sic): WordPiece ends every input with it ([SEP]).
    public var separatorTokenID: Int32?
    /// `tokenizer.ggml.normalizer.lowercase` (WordPiece; llama.cpp's default: true).
    public var lowercase: Bool?
    /// `tokenizer.ggml.normalizer.strip_accents` (WordPiece; default: the lowercase flag).
    public var stripAccents: Bool?
    /// `general.name`: llama.cpp keys a few per-model token attributes off it (Phi-3 strips the
    /// whitespace that follows its special tokens).
    public var modelName: String?

    public init(
        model: TokenizerModel,
        tokens: [String],
        scores: [Float]? = nil,
        tokenTypes: [Int32]? = nil,
        merges: [String]? = nil,
        preTokenizer: String? = nil,
        bosTokenID: Int32? = nil,
        eosTokenID: Int32? = nil,
        eotTokenID: Int32? = nil,
        eomTokenID: Int32? = nil,
        unknownTokenID: Int32? = nil,
        paddingTokenID: Int32? = nil,
        fimPadTokenID: Int32? = nil,
        fimRepoTokenID: Int32? = nil,
        fimSeparatorTokenID: Int32? = nil,
        addBOS: Bool? = nil,
        addEOS: Bool? = nil,
        addSeparator: Bool? = nil,
        addSpacePrefix: Bool? = nil,
        separatorTokenID: Int32? = nil,
        lowercase: Bool? = nil,
        stripAccents: Bool? = nil,
        modelName: String? = nil
    ) {
        self.separatorTokenID = separatorTokenID
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        self.model = model
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.eotTokenID = eotTokenID
        self.eomTokenID = eomTokenID
        self.unknownTokenID = unknownTokenID
        self.paddingTokenID = paddingTokenID
        self.fimPadTokenID = fimPadTokenID
        self.fimRepoTokenID = fimRepoTokenID
        self.fimSeparatorTokenID = fimSeparatorTokenID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSeparator = addSeparator
        self.addSpacePrefix = addSpacePrefix
        self.modelName = modelName
    }
}

/// Why a vocabulary cannot be turned into a tokenizer. Messages name the GGUF key at fault.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case emptyVocabulary
    case tooManyTokens(count: Int)
    /// A per-token array is shorter than `tokenizer.ggml.tokens`.
    case arrayTooShort(key: String, count: Int, tokenCount: Int)
    case missingMerges
    case unsupportedPreTokenizer(String)

    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "tokenizer.ggml.tokens is empty"
        case .tooManyTokens(let count):
            return "tokenizer.ggml.tokens has \(count) entries; token ids are 32-bit"
        case .arrayTooShort(let key, let count, let tokenCount):
            return "\(key) has \(count) entries but tokenizer.ggml.tokens has \(tokenCount)"
        case .missingMerges:
            return "tokenizer.ggml.merges is missing (required by the gpt2 tokenizer model)"
        case .unsupportedPreTokenizer(let name):
            return "tokenizer.ggml.pre '\(name)' is not a supported pre-tokenizer"
        }
    }
}

/// Per-token attributes after llama.cpp's load-time fix-ups (llama.cpp's `llama_token_attr`).
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt16
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    /// Whitespace before this special token is removed when it is split out of text.
    static let stripLeft = TokenAttributes(rawValue: 1 << 7)
    /// Whitespace after this special token is removed when it is split out of text.
    static let stripRight = TokenAttributes(rawValue: 1 << 8)

    /// Tokens hidden from output unless special tokens are rendered.
    static let hiddenUnlessSpecial: TokenAttributes = [.unknown, .control]
    /// Tokens split out of raw text before tokenization (control and unknown ones only when
    /// parsing special tokens).
    static let splitOut: TokenAttributes = [.control, .userDefined, .unknown]

    init(rawValue: UInt16) { self.rawValue = rawValue }

    init(tokenType: Int32) {
        switch TokenType(rawValue: tokenType) {
        case .normal: self = .normal
        case .unknown: self = .unknown
        case .control: self = .control
        case .userDefined: self = .userDefined
        case .unused: self = .unused
        case .byte: self = .byte
        case .undefined, nil: self = []
        }
    }
}
