/// The checked, indexed form of a ``Vocabulary`` that the encoders read: token texts as bytes, a
/// byte-string index, per-token attributes and scores, and the BPE merge table.
struct VocabularyStore: Sendable {
    let tokenCount: Int
    /// All token texts back to back; token `i` is `textBytes[textOffsets[i]..<textOffsets[i + 1]]`.
    private let textBytes: [UInt8]
    private let textOffsets: [Int]
    let scores: [Float]
    var attributes: [TokenAttributes]
    /// Token texts, then (BPE) every other string a merge rule mentions, each with a unique id:
    /// ids below `tokenCount` are tokens, the others exist only so merges can be looked up by id.
    private let strings: ByteStringTable
    /// BPE: rank of the merge rule for a (left string id, right string id) pair.
    private let mergeRanks: PairRankTable
    /// BPE: string id of the text each merge rule produces, indexed by rank.
    let mergeResults: [Int32]
    /// SentencePiece byte fallback: the `<0xXX>` token for each byte (else the token spelled as that
    /// single byte), or -1.
    private var byteFallbackTokens: [Int32]
    /// The token spelled as exactly one given byte, or -1.
    private let singleByteTokens: [Int32]

    /// Non-fatal oddities found while loading, for the caller to log.
    private(set) var warnings: [String] = []

    init(_ vocabulary: Vocabulary) throws {
        let count = vocabulary.tokens.count
        guard count > 0 else { throw TokenizerError.emptyVocabulary }
        guard count < Int(Int32.max) else { throw TokenizerError.tooManyTokens(count: count) }
        tokenCount = count

        if let scores = vocabulary.scores {
            guard scores.count >= count else {
                throw TokenizerError.arrayTooShort(key: "tokenizer.ggml.scores", count: scores.count, tokenCount: count)
            }
            // A NaN score would make the merge queue's ordering inconsistent; rank it last.
            self.scores = scores[0..<count].map { $0.isNaN ? -.infinity : $0 }
        } else {
            self.scores = [Float](repeating: 0, count: count)
        }
        if let types = vocabulary.tokenTypes, types.count < count {
            throw TokenizerError.arrayTooShort(key: "tokenizer.ggml.token_type", count: types.count, tokenCount: count)
        }

        var textBytes: [UInt8] = []
        var textOffsets: [Int] = [0]
        textOffsets.reserveCapacity(count + 1)
        var strings = ByteStringTable(minimumCapacity: count + 2 * (vocabulary.merges?.count ?? 0))
        var attributes: [TokenAttributes] = []
        attributes.reserveCapacity(count)
        var warnings: [String] = []
        for (index, token) in vocabulary.tokens.enumerated() {
            var bytes = Array(token.utf8)
            if bytes.isEmpty {
                // llama.cpp renames empty tokens so that they stay distinct and never match text.
                bytes = Array("[EMPTY_\(index)]".utf8)
                warnings.append("token \(index) is empty; renamed to [EMPTY_\(index)]")
            }
            let previous = strings.insert(bytes, value: Int32(index), replacing: false)
            if previous != Int32(index) {
                strings.insert(bytes, value: Int32(index), replacing: true)  // the last duplicate wins
                warnings.append("tokens \(previous) and \(index) have the same text")
            }
            var attribute = vocabulary.tokenTypes.map { TokenAttributes(tokenType: $0[index]) } ?? .normal
            if attribute.contains(.byte) && Self.byteValue(ofByteToken: bytes) == nil {
                warnings.append("byte token \(index) is not spelled <0xXX>; treated as normal text")
                attribute = .normal
            }
            attributes.append(attribute)
            textBytes.append(contentsOf: bytes)
            textOffsets.append(textBytes.count)
        }
        self.textBytes = textBytes
        self.textOffsets = textOffsets
        self.attributes = attributes

        var mergeRanks = PairRankTable(minimumCapacity: vocabulary.merges?.count ?? 0)
        var mergeResults: [Int32] = []
        if vocabulary.model == .bytePairEncoding {
            guard let merges = vocabulary.merges else { throw TokenizerError.missingMerges }
            guard merges.count < Int(Int32.max) else { throw TokenizerError.tooManyTokens(count: merges.count) }
            mergeResults = [Int32](repeating: -1, count: merges.count)
            var nextStringID = Int32(count)
            func stringID(_ bytes: [UInt8]) -> Int32 {
                let id = strings.insert(bytes, value: nextStringID, replacing: false)
                if id == nextStringID { nextStringID += 1 }
                return id
            }
            for (rank, merge) in merges.enumerated() {
                // "left right", split at the first space after the first byte (llama.cpp's
                // `find(' ', 1)`); a rule without one can never match and is skipped.
                let bytes = Array(merge.utf8)
                guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
                let left = stringID(Array(bytes[..<space]))
                let right = stringID(Array(bytes[(space + 1)...]))
                // The first of duplicate rules wins (llama.cpp's `emplace`).
                guard mergeRanks.insertIfAbsent(left, right, rank: Int32(rank)) else { continue }
                mergeResults[rank] = stringID(Array(bytes[..<space]) + bytes[(space + 1)...])
            }
        }
        self.strings = strings
        self.mergeRanks = mergeRanks
        self.mergeResults = mergeResults

        var byteFallbackTokens = [Int32](repeating: -1, count: 256)
        var singleByteTokens = [Int32](repeating: -1, count: 256)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in 0..<256 {
            let single = strings.value(for: [UInt8(byte)]).flatMap { $0 < Int32(count) ? $0 : nil }
            singleByteTokens[byte] = single ?? -1
            let spelled: [UInt8] = Array("<0x".utf8) + [hexDigits[byte >> 4], hexDigits[byte & 15]] + [0x3E]
            let hex = strings.value(for: spelled).flatMap { $0 < Int32(count) ? $0 : nil }
            byteFallbackTokens[byte] = hex ?? single ?? -1
        }
        self.byteFallbackTokens = byteFallbackTokens
        self.singleByteTokens = singleByteTokens
        self.warnings = warnings
    }

    mutating func warn(_ message: String) { warnings.append(message) }

    /// Bytes without a byte token fall back to `id` (llama.cpp would abort; the unknown token keeps
    /// the text's length visible instead of silently dropping the byte).
    mutating func fillMissingByteFallback(with id: Int32) {
        var missing = 0
        for byte in 0..<256 where byteFallbackTokens[byte] < 0 {
            byteFallbackTokens[byte] = id
            missing += 1
        }
        if missing > 0 { warn("\(missing) bytes have no <0xXX> token; they encode as the unknown token") }
    }

    /// The byte a `<0xXX>` token stands for, or nil when the text is not spelled that way.
    static func byteValue(ofByteToken text: [UInt8]) -> UInt8? {
        guard text.count == 6, text[0] == 0x3C, text[1] == 0x30, text[2] == 0x78, text[5] == 0x3E,
            let high = hexValue(text[3]), let low = hexValue(text[4])
        else { return nil }
        return high << 4 | low
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x41...0x46: return digit - 0x41 + 10
        case 0x61...0x66: return digit - 0x61 + 10
        default: return nil
        }
    }

    // MARK: Lookups

    /// The token spelled exactly `text`.
    @inline(__always)
    func tokenID(_ text: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let id = strings.value(for: text), id < Int32(tokenCount) else { return nil }
        return id
    }

    func tokenID(_ text: [UInt8]) -> Int32? {
        text.withUnsafeBufferPointer { tokenID($0) }
    }

    /// The id of `text` among tokens and merge-rule strings.
    @inline(__always)
    func stringID(_ text: UnsafeBufferPointer<UInt8>) -> Int32? {
        strings.value(for: text)
    }

    /// The rank of the merge rule joining two strings (by string id), if there is one.
    @inline(__always)
    func mergeRank(_ left: Int32, _ right: Int32) -> Int32? {
        guard left >= 0 && right >= 0 else { return nil }
        return mergeRanks.rank(left, right)
    }

    @inline(__always)
    func sentencePieceByteToken(_ byte: UInt8) -> Int32? {
        let id = byteFallbackTokens[Int(byte)]
        return id >= 0 ? id : nil
    }

    @inline(__always)
    func singleByteToken(_ byte: UInt8) -> Int32? {
        let id = singleByteTokens[Int(byte)]
        return id >= 0 ? id : nil
    }

    /// A token's text (the vocabulary entry, not its decoded form).
    func text(of id: Int32) -> ArraySlice<UInt8> {
        textBytes[textOffsets[Int(id)]..<textOffsets[Int(id) + 1]]
    }

    func isValid(_ id: Int32) -> Bool { id >= 0 && Int(id) < tokenCount }
}
