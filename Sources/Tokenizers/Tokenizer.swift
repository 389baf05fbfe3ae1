/// Turns text into token ids and back, producing the same ids as llama.cpp for the same vocabulary.
///
/// Immutable after creation and safe to share between sessions; per-session decoding state lives
/// in ``StreamingDecoder``.
///
/// ```swift
/// let tokenizer = try Tokenizer(vocabulary: vocabulary)
/// let ids = tokenizer.encode("Hello, world!")         // BOS added if the model wants it
/// let text = tokenizer.decode(ids)                     // "Hello, world!"
/// if tokenizer.isEndOfGeneration(next) { /* stop */ }
/// ```
public final class Tokenizer: Sendable {
    let store: VocabularyStore
    let special: SpecialTokens
    private let splitter: SpecialTokenSplitter
    /// nil for SentencePiece.
    let preTokenizer: PreTokenizer?
    /// Each token's printable bytes (control and unknown tokens included; they are hidden at use).
    private let pieceBytes: [UInt8]
    private let pieceOffsets: [Int]

    /// The tokenizer algorithm.
    public let model: TokenizerModel
    /// Whether ``encode(_:addSpecial:parseSpecial:)`` starts with ``bosTokenID`` when `addSpecial`.
    public let addsBOS: Bool
    /// Whether ``encode(_:addSpecial:parseSpecial:)`` ends with ``eosTokenID`` when `addSpecial`.
    public let addsEOS: Bool
    /// SentencePiece: a space is prepended to text at the start or after a special token.
    public let addsSpacePrefix: Bool
    /// The special tokens a text pair (a reranker's query and document) takes, as the vocabulary
    /// states them (llama.cpp's `llama_vocab_get_add_bos/eos/sep`, which WordPiece's own
    /// single-text encoding does not follow).
    public let pairSpecials: PairSpecials
    /// Decoding removes spaces before `. , ! ?` and some contractions (`clean_up_tokenization_spaces`).
    let cleansSpaces: Bool
    /// Oddities found in the vocabulary that did not prevent loading (out-of-range ids, …).
    public let warnings: [String]
    /// WordPiece: lowercasing and accent stripping.
    private let wordPieceNormalization: WordPieceNormalization
    /// WordPiece: the longest token text in bytes (llama.cpp's `max_token_len`), the match window.
    private let longestToken: Int

    /// Checks `vocabulary` and prepares the lookup tables.
    ///
    /// - Throws: ``TokenizerError`` when a required array is missing or too short, or the
    ///   pre-tokenizer is not supported.
    public init(vocabulary: Vocabulary) throws {
        var store = try VocabularyStore(vocabulary)
        model = vocabulary.model
        let preTokenizer: PreTokenizer?
        let lowercase = vocabulary.lowercase ?? true
        wordPieceNormalization = WordPieceNormalization(
            lowercase: lowercase, stripAccents: vocabulary.stripAccents ?? lowercase)
        switch vocabulary.model {
        case .wordPiece:
            // llama.cpp adds [CLS] … [SEP] to every WordPiece input whatever add_bos_token and
            // add_eos_token say (the separator is appended in `encode`, not as an EOS).
            preTokenizer = nil
            addsBOS = true
            addsSpacePrefix = false
            cleansSpaces = false
        case .sentencePiece:
            preTokenizer = nil
            addsBOS = vocabulary.addBOS ?? true
            addsSpacePrefix = vocabulary.addSpacePrefix ?? true
            cleansSpaces = false
        case .bytePairEncoding:
            let pre = try PreTokenizer.named(vocabulary.preTokenizer)
            if vocabulary.preTokenizer?.isEmpty ?? true {
                store.warn("tokenizer.ggml.pre is missing; using the 'default' pre-tokenizer")
            }
            preTokenizer = pre
            addsBOS = vocabulary.addBOS ?? pre.addsBOSByDefault
            addsSpacePrefix = vocabulary.addSpacePrefix ?? false
            cleansSpaces = pre.cleanSpaces
        }
        self.preTokenizer = preTokenizer
        addsEOS = vocabulary.model == .wordPiece ? false : vocabulary.addEOS ?? false
        pairSpecials = PairSpecials(
            bos: vocabulary.addBOS ?? addsBOS, eos: vocabulary.addEOS ?? false,
            separator: vocabulary.addSeparator ?? (vocabulary.model == .wordPiece))

        let special = SpecialTokens(resolving: vocabulary, store: &store, preTokenizer: preTokenizer)
        if vocabulary.model == .sentencePiece, let unknown = special.unknown {
            store.fillMissingByteFallback(with: unknown)
        }
        if addsBOS && special.bos == nil { store.warn("add_bos_token is set but there is no BOS token") }
        if addsEOS && special.eos == nil { store.warn("add_eos_token is set but there is no EOS token") }
        if vocabulary.model == .wordPiece && special.separator == nil {
            store.warn("the WordPiece vocabulary has no separator token ([SEP]); inputs end without it")
        }
        self.special = special
        self.splitter = SpecialTokenSplitter(order: special.splitOrder, store: store)

        var pieceBytes: [UInt8] = []
        var pieceOffsets = [0]
        pieceOffsets.reserveCapacity(store.tokenCount + 1)
        for id in 0..<Int32(store.tokenCount) {
            Self.appendPiece(of: id, store: store, model: vocabulary.model, to: &pieceBytes)
            pieceOffsets.append(pieceBytes.count)
        }
        self.pieceBytes = pieceBytes
        self.pieceOffsets = pieceOffsets
        self.warnings = store.warnings
        self.longestToken = (0..<Int32(store.tokenCount)).reduce(0) { max($0, store.text(of: $1).count) }
        self.store = store
    }

    // MARK: Vocabulary facts

    /// Number of tokens; valid ids are `0..<vocabularySize`.
    public var vocabularySize: Int { store.tokenCount }
    /// Beginning of sequence.
    public var bosTokenID: Int32? { special.bos }
    /// End of sequence.
    public var eosTokenID: Int32? { special.eos }
    /// End of turn (`<|im_end|>`, `<end_of_turn>`, `<|eot_id|>` …).
    public var eotTokenID: Int32? { special.eot }
    /// End of message (`<|eom_id|>`).
    public var eomTokenID: Int32? { special.eom }
    public var unknownTokenID: Int32? { special.unknown }
    /// Separator (`[SEP]`; WordPiece ends every input with it).
    public var separatorTokenID: Int32? { special.separator }
    public var paddingTokenID: Int32? { special.padding }
    /// Every token that ends generation (EOS, EOT, EOM and others recognised by text).
    public var endOfGenerationTokenIDs: Set<Int32> { special.endOfGeneration }

    /// Whether generating `id` should stop generation.
    public func isEndOfGeneration(_ id: Int32) -> Bool { special.endOfGeneration.contains(id) }

    /// Whether `id` is a control token (hidden from decoded text unless rendered explicitly).
    public func isControl(_ id: Int32) -> Bool {
        store.isValid(id) && store.attributes[Int(id)].contains(.control)
    }

    /// The token whose vocabulary entry is exactly `text` (e.g. `"<|im_start|>"`), if any.
    public func tokenID(forText text: String) -> Int32? { store.tokenID(Array(text.utf8)) }

    // MARK: Encoding

    /// Tokenizes `text`.
    ///
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS as the vocabulary asks (``addsBOS``, ``addsEOS``).
    ///   - parseSpecial: text spelling a control token (like `"<|im_start|>"`) becomes that token;
    ///     otherwise it is tokenized as plain text. User-defined tokens are matched either way.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        Array(text.utf8).withUnsafeBufferPointer {
            encode($0, addSpecial: addSpecial, parseSpecial: parseSpecial)
        }
    }

    /// Tokenizes raw bytes. Invalid UTF-8 is handled as llama.cpp handles it: SentencePiece spells
    /// unknown bytes with byte tokens; byte-level BPE reads each undecodable byte as U+FFFD.
    public func encode(bytes: [UInt8], addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        bytes.withUnsafeBufferPointer { encode($0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    }

    private func encode(_ text: UnsafeBufferPointer<UInt8>, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        let fragments = splitter.split(text, parseSpecial: parseSpecial)
        var output: [Int32] = []
        output.reserveCapacity(text.count / 3 + 2)
        if addSpecial && addsBOS, let bos = special.bos { output.append(bos) }

        switch model {
        case .sentencePiece:
            // A space goes in front of text that starts the input or follows a special token;
            // spaces are spelled "▁" (U+2581) in SentencePiece vocabularies.
            var followsSpecial = true
            var escaped: [UInt8] = []
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    followsSpecial = true
                case .text(let range):
                    escaped.removeAll(keepingCapacity: true)
                    if addsSpacePrefix && followsSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
                    for byte in text[range] {
                        if byte == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(byte) }
                    }
                    escaped.withUnsafeBufferPointer { encodeSentencePiece($0, store: store, into: &output) }
                    followsSpecial = false
                }
            }
        case .wordPiece:
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    encodeWordPiece(
                        UnsafeBufferPointer(rebasing: text[range]), store: store, normalization: wordPieceNormalization,
                        longestToken: longestToken, unknown: special.unknown, into: &output)
                }
            }
            if addSpecial, let separator = special.separator { output.append(separator) }
        case .bytePairEncoding:
            guard let preTokenizer else { break }
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    encodeBytePairs(
                        UnsafeBufferPointer(rebasing: text[range]), store: store, preTokenizer: preTokenizer,
                        into: &output)
                }
            }
        }

        if addSpecial && addsEOS, let eos = special.eos { output.append(eos) }
        return output
    }

    // MARK: Decoding

    /// The bytes `id` prints as. Control and unknown tokens print nothing unless `renderSpecial`;
    /// ids outside the vocabulary print nothing.
    public func piece(_ id: Int32, renderSpecial: Bool = false) -> [UInt8] {
        Array(pieceSlice(id, renderSpecial: renderSpecial))
    }

    func pieceSlice(_ id: Int32, renderSpecial: Bool) -> ArraySlice<UInt8> {
        guard store.isValid(id) else { return [] }
        if !renderSpecial && !store.attributes[Int(id)].isDisjoint(with: .hiddenUnlessSpecial) { return [] }
        return pieceBytes[pieceOffsets[Int(id)]..<pieceOffsets[Int(id) + 1]]
    }

    /// Detokenizes a whole sequence like llama.cpp's `llama_detokenize`: the space a SentencePiece
    /// tokenizer put in front of the text is removed again, byte-level BPE vocabularies that ask for
    /// it get `clean_up_tokenization_spaces`, and invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(ids, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// ``decode(_:renderSpecial:)`` without the final UTF-8 interpretation.
    public func decodeBytes(_ ids: [Int32], renderSpecial: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, id) in ids.enumerated() {
            var piece = pieceSlice(id, renderSpecial: renderSpecial)
            // Strip the one leading space the SentencePiece prefix added, from the first token only.
            // WordPiece's phantom space likewise starts the first word.
            if (index == 0 && addsSpacePrefix || bytes.isEmpty && model == .wordPiece) && piece.first == 0x20 {
                piece = piece.dropFirst()
            }
            bytes.append(contentsOf: piece)
        }
        if cleansSpaces { Self.cleanUpTokenizationSpaces(&bytes) }
        return bytes
    }

    /// The printable form of a token, as llama.cpp's `token_to_piece` with `special = true`.
    private static func appendPiece(
        of id: Int32, store: VocabularyStore, model: TokenizerModel, to output: inout [UInt8]
    ) {
        let attributes = store.attributes[Int(id)]
        let text = store.text(of: id)
        if !attributes.isDisjoint(with: [.unknown, .control, .userDefined]) {
            output.append(contentsOf: text)
        } else if attributes.contains(.normal) {
            switch model {
            case .sentencePiece, .wordPiece:
                appendUnescapingSpaces(text, to: &output)
            case .bytePairEncoding:
                appendByteLevelDecoded(text, to: &output)
            }
        } else if attributes.contains(.byte), let byte = VocabularyStore.byteValue(ofByteToken: Array(text)) {
            output.append(byte)
        }
        // Unused and undefined tokens print nothing.
    }

    /// "▁" (U+2581) back to " ".
    private static func appendUnescapingSpaces(_ text: ArraySlice<UInt8>, to output: inout [UInt8]) {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == 0xE2 && index + 2 < text.endIndex && text[index + 1] == 0x96 && text[index + 2] == 0x81 {
                output.append(0x20)
                index += 3
            } else {
                output.append(text[index])
                index += 1
            }
        }
    }

    /// Byte-level alphabet back to bytes. A character outside the alphabet is written as
    /// `[UNK_BYTE_0x<hex of its UTF-8><whole token text>]`, llama.cpp's exact output.
    private static func appendByteLevelDecoded(_ text: ArraySlice<UInt8>, to output: inout [UInt8]) {
        let codepoints = Array(text).withUnsafeBufferPointer { UTF8Codec.decodeLeniently($0) }
        for codepoint in codepoints {
            if let byte = ByteLevelAlphabet.byte(for: codepoint) {
                output.append(byte)
            } else {
                var utf8: [UInt8] = []
                UTF8Codec.append(codepoint, to: &utf8)
                output.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                for byte in utf8 {
                    let hex = Array("0123456789abcdef".utf8)
                    output.append(hex[Int(byte >> 4)])
                    output.append(hex[Int(byte & 15)])
                }
                output.append(contentsOf: text)
                output.append(0x5D)
            }
        }
    }
}

/// Which special tokens frame a pair of texts: `[BOS] first [EOS] [SEP] second [EOS]`, each where
/// its flag is set (llama-server's `format_prompt_rerank`).
public struct PairSpecials: Sendable, Equatable {
    public let bos: Bool
    public let eos: Bool
    public let separator: Bool
}
