/// The special token ids and end-of-generation set of a vocabulary, after llama.cpp's load-time
/// rules (src/llama-vocab.cpp, `llama_vocab::impl::load`): defaults per tokenizer model, ids from
/// the file when in range, then tokens recognised by their text.
struct SpecialTokens: Sendable {
    var bos: Int32?
    var eos: Int32?
    var eot: Int32?
    var eom: Int32?
    var unknown: Int32?
    var padding: Int32?
    /// WordPiece: ends every input ([SEP]).
    var separator: Int32?
    var endOfGeneration: Set<Int32> = []
    /// Tokens split out of text before tokenization, longest text first.
    var splitOrder: [Int32] = []
}

/// Texts that mark a token as end-of-turn when the file names none (first present one wins).
private let endOfTurnTexts = [
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
    "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
]
private let endOfMessageTexts = ["<|eom_id|>"]
private let fimPrefixTexts = [
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
    "<|prefix|>",
]
private let fimSuffixTexts = [
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
    "<|suffix|>",
]
private let fimMiddleTexts = [
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
    "<|middle|>",
]
private let fimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
private let fimRepoTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
private let fimSeparatorTexts = ["<|file_sep|>"]
/// Tokens that end generation wherever they appear in a vocabulary.
private let endOfGenerationTexts = [
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
]

extension SpecialTokens {
    /// Resolves ids and fixes up token attributes in `store` the way llama.cpp does at load time.
    /// Where llama.cpp's choice depends on hash-map iteration order (several candidate texts for
    /// one role), the first candidate in its list wins here.
    init(resolving vocabulary: Vocabulary, store: inout VocabularyStore, preTokenizer: PreTokenizer?) {
        let isSentencePiece = vocabulary.model == .sentencePiece
        func inRange(_ id: Int32?) -> Int32? { id.flatMap { store.isValid($0) ? $0 : nil } }
        func fromFile(_ id: Int32?, key: String, default fallback: Int32?) -> Int32? {
            guard let id else { return inRange(fallback) }
            if store.isValid(id) { return id }
            store.warn("\(key) = \(id) is out of range; using the default")
            return inRange(fallback)
        }
        func id(of text: String) -> Int32? { store.tokenID(Array(text.utf8)) }
        func markControl(_ id: Int32) { store.attributes[Int(id)].insert(.control) }
        func detect(_ current: Int32?, _ texts: [String]) -> Int32? {
            if let current { return current }
            for text in texts {
                if let found = id(of: text) {
                    markControl(found)
                    return found
                }
            }
            return nil
        }

        // llama.cpp's defaults: SentencePiece 1/2/0, byte-level BPE 11/11, WordPiece BERT's
        // [CLS] 101, no EOS, [UNK] 100, [SEP] 102, [PAD] 0.
        let isWordPiece = vocabulary.model == .wordPiece
        let defaultBOS: Int32? =
            isWordPiece ? 101 : preTokenizer?.hasNoDefaultBOS == true ? nil : (isSentencePiece ? 1 : 11)
        bos = fromFile(vocabulary.bosTokenID, key: "tokenizer.ggml.bos_token_id", default: defaultBOS)
        eos = fromFile(
            vocabulary.eosTokenID, key: "tokenizer.ggml.eos_token_id", default: isWordPiece ? nil : isSentencePiece ? 2 : 11)
        unknown = fromFile(
            vocabulary.unknownTokenID, key: "tokenizer.ggml.unknown_token_id",
            default: isSentencePiece ? 0 : isWordPiece ? 100 : nil)
        padding = fromFile(
            vocabulary.paddingTokenID, key: "tokenizer.ggml.padding_token_id", default: isWordPiece ? 0 : nil)
        separator = fromFile(
            vocabulary.separatorTokenID, key: "tokenizer.ggml.seperator_token_id", default: isWordPiece ? 102 : nil)
        let eotFromFile = fromFile(vocabulary.eotTokenID, key: "tokenizer.ggml.eot_token_id", default: nil)
        let eomFromFile = fromFile(vocabulary.eomTokenID, key: "tokenizer.ggml.eom_token_id", default: nil)
        let fimPadFromFile = fromFile(vocabulary.fimPadTokenID, key: "tokenizer.ggml.fim_pad_token_id", default: nil)
        let fimRepoFromFile = fromFile(vocabulary.fimRepoTokenID, key: "tokenizer.ggml.fim_rep_token_id", default: nil)
        let fimSeparatorFromFile = fromFile(
            vocabulary.fimSeparatorTokenID, key: "tokenizer.ggml.fim_sep_token_id", default: nil)

        eot = detect(eotFromFile, endOfTurnTexts)
        eom = detect(eomFromFile, endOfMessageTexts)
        _ = detect(nil, fimPrefixTexts)
        _ = detect(nil, fimSuffixTexts)
        _ = detect(nil, fimMiddleTexts)
        let fimPad = detect(fimPadFromFile, fimPadTexts)
        let fimRepo = detect(fimRepoFromFile, fimRepoTexts)
        let fimSeparator = detect(fimSeparatorFromFile, fimSeparatorTexts)

        // Control tokens named "unused" are placeholders.
        let unusedMarker = Array("unused".utf8)
        for index in 0..<store.tokenCount where store.attributes[index].contains(.control) {
            if store.text(of: Int32(index)).containsSubsequence(unusedMarker) {
                store.attributes[index].insert(.unused)
            }
        }

        var endOfGeneration = Set([fimPad, fimRepo, fimSeparator].compactMap { $0 })
        for text in endOfGenerationTexts {
            if let found = id(of: text) {
                endOfGeneration.insert(found)
                markControl(found)
            }
        }
        // gpt-oss: these structure tokens are always rendered.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let found = id(of: text) { store.attributes[Int(found)] = .userDefined }
        }
        for id in [eos, eot, eom].compactMap({ $0 }) { endOfGeneration.insert(id) }

        // o200k-harmony and solar-open: "<|end|>" ends a message, not generation.
        let eogTexts = Dictionary(
            endOfGeneration.map { (String(decoding: store.text(of: $0), as: UTF8.self), $0) },
            uniquingKeysWith: { first, _ in first })
        let hasCall = eogTexts["<|call|>"] != nil || eogTexts["<|calls|>"] != nil
        if let end = eogTexts["<|end|>"],
            (eogTexts["<|return|>"] != nil && hasCall) || (hasCall && eogTexts["<|flush|>"] != nil)
        {
            endOfGeneration.remove(end)
            store.attributes[Int(end)] = .userDefined
        }
        // Gemma 4 and PLaMo have an ordinary "</s>".
        if let closingS = eogTexts["</s>"], eogTexts["<|tool_response>"] != nil || eogTexts["<|plamo:eos|>"] != nil {
            endOfGeneration.remove(closingS)
            store.attributes[Int(closingS)] = .normal
        }
        self.endOfGeneration = endOfGeneration

        let splitCandidates = (0..<Int32(store.tokenCount)).filter {
            !store.attributes[Int($0)].isDisjoint(with: .splitOut)
        }
        splitOrder = splitCandidates.sorted { lhs, rhs in
            let lhsLength = store.text(of: lhs).count
            let rhsLength = store.text(of: rhs).count
            return lhsLength != rhsLength ? lhsLength > rhsLength : lhs < rhs
        }

        applyPerModelStripping(vocabulary, store: &store)
    }

    /// Per-model whitespace stripping around special tokens, keyed by names as llama.cpp does.
    private func applyPerModelStripping(_ vocabulary: Vocabulary, store: inout VocabularyStore) {
        func id(of text: String) -> Int32? { store.tokenID(Array(text.utf8)) }
        let pre = vocabulary.preTokenizer ?? ""
        let modelName = (vocabulary.modelName ?? "").lowercased()
        if ["jina-v2-de", "jina-v2-es", "jina-v2-code", "mmbert"].contains(where: { pre.contains($0) }) {
            if let mask = id(of: "<mask>") { store.attributes[Int(mask)].insert(.stripLeft) }
        } else if modelName.contains("phi-3") || modelName.contains("phi3") {
            for token in splitOrder { store.attributes[Int(token)].insert(.stripRight) }
            if let closingS = id(of: "</s>") { store.attributes[Int(closingS)].insert(.stripRight) }
            for text in ["<unk>", "<s>", "<|endoftext|>"] {
                if let token = id(of: text) { store.attributes[Int(token)].remove(.stripRight) }
            }
        } else if modelName.contains("modern-bert") {
            if let mask = id(of: "[MASK]") { store.attributes[Int(mask)].insert(.stripLeft) }
        }
    }
}

extension ArraySlice<UInt8> {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        var start = startIndex
        while start + needle.count <= endIndex {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }
}
