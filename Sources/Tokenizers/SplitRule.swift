/// One regex of a pre-tokenizer chain. Applied to each piece produced so far, it cuts the piece
/// into its matches and the text between them (llama.cpp keeps both, in order).
enum SplitRule: Sendable {
    /// llama.cpp's hand-written GPT-2 splitter.
    case gpt2
    /// llama.cpp's hand-written Llama 3 splitter (digits in groups of up to three).
    case llama3
    /// llama.cpp's hand-written Qwen 2 splitter (single digits).
    case qwen2
    /// llama.cpp's hand-written Qwen 3.5 splitter (single digits, combining marks join letters).
    case qwen35
    /// GPT-4o's regex (o200k: gpt-oss, Llama 4), as llama.cpp runs it (``splitGPT4o``).
    case gpt4o
    /// `X`: every code point of the class is a piece of its own (`\p{N}`, `[\r\n]`).
    case isolate(CharacterClass)
    /// `\s?X+` or `X+`: maximal runs of the class, optionally led by one whitespace code point.
    case runs(CharacterClass, leadingWhitespace: Bool)
    /// `[0-9][0-9][0-9]`: consecutive groups of three ASCII digits, from the left.
    case asciiDigitTriples
    /// `\s+$`: the whitespace that ends the piece.
    case trailingWhitespace
    /// `[^\n]+|[\n]+`: alternating runs of line feeds and everything else.
    case newlineRuns

    /// Splits every piece (given as lengths in code points, covering `codepoints` in order).
    func split(
        _ pieces: [Int], codepoints: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<CodepointFlags>
    ) -> [Int] {
        var collector = PieceCollector(lengths: [], previousEnd: 0)
        collector.lengths.reserveCapacity(pieces.count)
        var start = 0
        for length in pieces {
            let piece = PieceCursor(codepoints: codepoints, allFlags: flags, start: start, end: start + length)
            collector.previousEnd = start
            switch self {
            case .gpt2:
                splitGPT2(piece, into: &collector)
            case .llama3:
                splitLlama3Family(piece, maxDigits: 3, marksAreLetters: false, into: &collector)
            case .qwen2:
                splitLlama3Family(piece, maxDigits: 1, marksAreLetters: false, into: &collector)
            case .qwen35:
                splitLlama3Family(piece, maxDigits: 1, marksAreLetters: true, into: &collector)
            case .gpt4o:
                splitGPT4o(piece, into: &collector)
            default:
                splitByMatches(piece, into: &collector)
            }
            start += length
        }
        return collector.lengths
    }

    /// `std::regex_iterator` over one piece: find the leftmost match at or after the previous
    /// match's end; the text skipped to reach it is a piece too.
    private func splitByMatches(_ piece: PieceCursor, into collector: inout PieceCollector) {
        if case .trailingWhitespace = self {
            // The only match can be the trailing whitespace run; find it in one backwards pass
            // rather than re-scanning every whitespace run from each of its positions.
            var runStart = piece.end
            while runStart > piece.start && piece.flags(runStart - 1).isWhitespace { runStart -= 1 }
            collector.cut(at: runStart)
            collector.cut(at: piece.end)
            return
        }
        var position = piece.start
        while position < piece.end {
            guard let matchEnd = matchEnd(in: piece, at: position) else {
                position += 1
                continue
            }
            collector.cut(at: position)  // the unmatched text before the match, if any
            collector.cut(at: matchEnd)
            position = matchEnd
        }
        collector.cut(at: piece.end)
    }

    /// Where a match starting exactly at `position` ends, or nil when none starts there.
    private func matchEnd(in piece: PieceCursor, at position: Int) -> Int? {
        @inline(__always) func member(_ characterClass: CharacterClass, _ at: Int) -> Bool {
            at < piece.end && characterClass.contains(piece.codepoint(at), piece.flags(at))
        }
        switch self {
        case .isolate(let characterClass):
            return member(characterClass, position) ? position + 1 : nil
        case .runs(let characterClass, let leadingWhitespace):
            var end = position
            // `\s?` is greedy, and no class here contains whitespace, so the optional space only
            // belongs to the match when a class member follows it.
            if leadingWhitespace && piece.flags(position).isWhitespace && member(characterClass, position + 1) {
                end += 1
            }
            guard member(characterClass, end) else { return nil }
            while member(characterClass, end) { end += 1 }
            return end
        case .asciiDigitTriples:
            guard position + 3 <= piece.end else { return nil }
            for offset in 0..<3 where !(0x30...0x39).contains(piece.codepoint(position + offset)) {
                return nil
            }
            return position + 3
        case .trailingWhitespace:
            return nil  // handled in splitByMatches
        case .newlineRuns:
            let isLineFeed = piece.codepoint(position) == 0x0A
            var end = position + 1
            while end < piece.end && (piece.codepoint(end) == 0x0A) == isLineFeed { end += 1 }
            return end
        case .gpt2, .llama3, .qwen2, .qwen35, .gpt4o:
            return nil
        }
    }
}

/// A regex character class, evaluated the way llama.cpp's regex fallback sees text: classes
/// written with `\p{…}` run on a "collapsed" string where each non-ASCII code point stands for its
/// category, and the others on code points where every non-ASCII whitespace reads as U+000B — so
/// for instance U+3000 IDEOGRAPHIC SPACE never matches a literal range that includes it.
enum CharacterClass: Sendable {
    /// `\p{N}`
    case number
    /// `\p{L}`
    case letter
    /// `\p{P}`
    case punctuation
    /// `[\r\n]`
    case lineBreak
    /// Falcon's `[\p{P}\$\+<=>\^~\|`]`
    case falconPunctuation
    /// The default pre-tokenizer's `[\p{P}\$\+<=>\^~\|]`
    case defaultPunctuation
    /// DeepSeek's CJK/Hangul class `[一-龥ࠀ-一가-퟿]`
    case deepSeekCJK
    /// DeepSeek LLM's letter class `[A-Za-zµÀ-ÖØ-öø-ƺ…]`
    case deepSeekLetter
    /// DeepSeek LLM's punctuation class `[!-/:-~！-／：-～‘-‟　-。]`
    case deepSeekPunctuation

    @inline(__always)
    func contains(_ codepoint: UInt32, _ flags: CodepointFlags) -> Bool {
        switch self {
        case .number: return flags.isNumber
        case .letter: return flags.isLetter
        case .punctuation: return flags.isPunctuation
        case .lineBreak: return codepoint == 0x0A || codepoint == 0x0D
        case .falconPunctuation:
            return flags.isPunctuation || Self.isASCIISymbol(codepoint, includingBacktick: true)
        case .defaultPunctuation:
            return flags.isPunctuation || Self.isASCIISymbol(codepoint, includingBacktick: false)
        case .deepSeekCJK, .deepSeekLetter, .deepSeekPunctuation:
            let seen = codepoint > 0x7F && flags.isWhitespace ? 0x0B : codepoint
            let ranges: [ClosedRange<UInt32>]
            switch self {
            case .deepSeekCJK: ranges = deepSeekCJKRanges
            case .deepSeekLetter: ranges = deepSeekLetterRanges
            default: ranges = deepSeekPunctuationRanges
            }
            return Self.rangesContain(ranges, seen)
        }
    }

    /// `$ + < = > ^ ~ |` and optionally `` ` ``: the ASCII symbols the punctuation classes add.
    @inline(__always)
    private static func isASCIISymbol(_ codepoint: UInt32, includingBacktick: Bool) -> Bool {
        switch codepoint {
        case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true
        case 0x60: return includingBacktick
        default: return false
        }
    }

    /// Binary search in sorted, non-overlapping ranges.
    private static func rangesContain(_ ranges: [ClosedRange<UInt32>], _ codepoint: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < codepoint {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < ranges.count && ranges[low].contains(codepoint)
    }
}

/// `[一-龥ࠀ-一가-퟿]`: U+4E00…U+9FA5, U+0800…U+4E00 and U+AC00…U+D7FF, merged and sorted.
private let deepSeekCJKRanges: [ClosedRange<UInt32>] = [0x0800...0x9FA5, 0xAC00...0xD7FF]

/// `[!-/:-~！-／：-～‘-‟　-。]`, sorted.
private let deepSeekPunctuationRanges: [ClosedRange<UInt32>] = [
    0x21...0x2F, 0x3A...0x7E, 0x2018...0x201F, 0x3000...0x3002, 0xFF01...0xFF0F, 0xFF1A...0xFF5E,
]

/// DeepSeek LLM's letter class from its `tokenizer.json` (as llama.cpp lists it), sorted.
private let deepSeekLetterRanges: [ClosedRange<UInt32>] = [
    0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF,
    0x1C4...0x293, 0x295...0x2AF, 0x370...0x373, 0x376...0x377, 0x37B...0x37D, 0x37F...0x37F,
    0x386...0x386, 0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481,
    0x48A...0x52F, 0x531...0x556, 0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA,
    0x1CBD...0x1CBF, 0x1D00...0x1D2B, 0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15,
    0x1F18...0x1F1D, 0x1F20...0x1F45, 0x1F48...0x1F4D, 0x1F50...0x1F57, 0x1F59...0x1F59,
    0x1F5B...0x1F5B, 0x1F5D...0x1F5D, 0x1F5F...0x1F7D, 0x1F80...0x1FB4, 0x1FB6...0x1FBC,
    0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC, 0x1FD0...0x1FD3, 0x1FD6...0x1FDB,
    0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102, 0x2107...0x2107,
    0x210A...0x2113, 0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126,
    0x2128...0x2128, 0x212A...0x212D, 0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F,
    0x2145...0x2149, 0x214E...0x214E, 0x2183...0x2184, 0x2C00...0x2C7B, 0x2C7E...0x2CE4,
    0x2CEB...0x2CEE, 0x2CF2...0x2CF3, 0xA640...0xA66D, 0xA680...0xA69B, 0xA722...0xA76F,
    0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF, 0xFB00...0xFB06, 0xFB13...0xFB17,
    0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3, 0x104D8...0x104FB,
    0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943,
]
