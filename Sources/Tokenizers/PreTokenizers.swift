/// A byte-level BPE pre-tokenizer: the regex chain that cuts text into words before merging,
/// selected by `tokenizer.ggml.pre`, plus the per-vocabulary flags llama.cpp ties to that name.
///
/// llama.cpp (src/llama-vocab.cpp) lists one to four regexes per pre-tokenizer; each regex splits
/// every piece the previous one produced, and both the matches and the text between matches become
/// pieces. The common regexes have hand-written splitters there (src/unicode.cpp), which differ from
/// the regexes in corner cases; this file reproduces those splitters, and `SplitRule.swift` the
/// others, with the semantics of `std::regex` that llama.cpp runs them with.
struct PreTokenizer: Sendable {
    let name: String
    let rules: [SplitRule]
    /// Decoding removes spaces before punctuation (`clean_up_tokenization_spaces`).
    let cleanSpaces: Bool
    /// A word that is itself a token is emitted whole, without merging (Llama 3's `ignore_merges`).
    let ignoreMerges: Bool
    /// The default for `add_bos_token` when the file does not say.
    let addsBOSByDefault: Bool
    /// The pre-tokenizer clears the default BOS id (ChatGLM).
    let hasNoDefaultBOS: Bool

    private init(
        _ name: String, _ rules: [SplitRule], cleanSpaces: Bool = true, ignoreMerges: Bool = false,
        addsBOSByDefault: Bool = false, hasNoDefaultBOS: Bool = false
    ) {
        self.name = name
        self.rules = rules
        self.cleanSpaces = cleanSpaces
        self.ignoreMerges = ignoreMerges
        self.addsBOSByDefault = addsBOSByDefault
        self.hasNoDefaultBOS = hasNoDefaultBOS
    }

    /// The pre-tokenizer llama.cpp selects for `tokenizer.ggml.pre`; nil or empty selects "default".
    static func named(_ name: String?) throws -> PreTokenizer {
        let name = name ?? ""
        let starCoder: [SplitRule] = [.isolate(.number), .gpt2]
        switch name {
        case "", "default":
            return PreTokenizer(
                name, [.runs(.defaultPunctuation, leadingWhitespace: false), .gpt2,
                       .runs(.number, leadingWhitespace: false), .asciiDigitTriples])
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
            "jina-v5-nano":
            return PreTokenizer(name, [.llama3], ignoreMerges: true, addsBOSByDefault: true)
        case "dbrx", "smaug-bpe":
            return PreTokenizer(name, [.llama3])
        case "chatglm-bpe":
            return PreTokenizer(name, [.llama3], hasNoDefaultBOS: true)
        case "glm4", "glm5":
            return PreTokenizer(name, [.llama3], ignoreMerges: true, hasNoDefaultBOS: true)
        case "deepseek-llm":
            return PreTokenizer(
                name,
                [.isolate(.lineBreak), .runs(.deepSeekLetter, leadingWhitespace: true),
                 .runs(.deepSeekPunctuation, leadingWhitespace: true), .trailingWhitespace,
                 .runs(.deepSeekCJK, leadingWhitespace: false), .runs(.number, leadingWhitespace: false)],
                cleanSpaces: false)
        case "deepseek-coder":
            return PreTokenizer(
                name,
                [.isolate(.lineBreak), .runs(.letter, leadingWhitespace: true),
                 .runs(.punctuation, leadingWhitespace: true), .runs(.deepSeekCJK, leadingWhitespace: false),
                 .isolate(.number)],
                cleanSpaces: false)
        case "falcon":
            return PreTokenizer(
                name, [.runs(.falconPunctuation, leadingWhitespace: false), .gpt2, .asciiDigitTriples])
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
            "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo",
            "jais":
            return PreTokenizer(name, [.gpt2])
        case "trillion", "granite-docling":
            return PreTokenizer(name, [.gpt2], cleanSpaces: false)
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            return PreTokenizer(name, starCoder)
        case "command-r", "smollm":
            return PreTokenizer(name, starCoder, cleanSpaces: false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2":
            return PreTokenizer(name, [.qwen2], cleanSpaces: false)
        case "megrez", "stablelm2":
            return PreTokenizer(name, [.qwen2])
        case "qwen35":
            return PreTokenizer(name, [.qwen35], cleanSpaces: false)
        case "gpt-4o", "llama4", "kanana2", "talkie":
            return PreTokenizer(name, [.gpt4o], cleanSpaces: false)
        case "laguna":
            return PreTokenizer(name, [.newlineRuns, .qwen2], cleanSpaces: false)
        default:
            throw TokenizerError.unsupportedPreTokenizer(name)
        }
    }

    /// Splits `codepoints` into words; returns each word's length in code points, in order.
    func split(_ codepoints: UnsafeBufferPointer<UInt32>) -> [Int] {
        guard !codepoints.isEmpty else { return [] }
        var flags = [CodepointFlags]()
        flags.reserveCapacity(codepoints.count)
        for codepoint in codepoints { flags.append(.of(codepoint)) }
        var pieces = [codepoints.count]
        flags.withUnsafeBufferPointer { flags in
            for rule in rules {
                pieces = rule.split(pieces, codepoints: codepoints, flags: flags)
            }
        }
        return pieces
    }
}

/// A view of one piece of text being split: positions outside it read as "out of range", which is
/// how llama.cpp's splitters see the piece boundaries.
struct PieceCursor {
    static let outOfRange: UInt32 = 0xFFFF_FFFF
    let codepoints: UnsafeBufferPointer<UInt32>
    let allFlags: UnsafeBufferPointer<CodepointFlags>
    let start: Int
    let end: Int

    @inline(__always) func codepoint(_ position: Int) -> UInt32 {
        start <= position && position < end ? codepoints[position] : Self.outOfRange
    }

    @inline(__always) func flags(_ position: Int) -> CodepointFlags {
        start <= position && position < end ? allFlags[position] : []
    }
}

/// Collects piece lengths, dropping empty ones (llama.cpp's `_add_token`).
struct PieceCollector {
    var lengths: [Int]
    var previousEnd: Int

    /// Ends the current piece at `end`; returns its length.
    @inline(__always) @discardableResult
    mutating func cut(at end: Int) -> Int {
        let length = end - previousEnd
        if length > 0 { lengths.append(length) }
        previousEnd = end
        return length
    }
}

private let apostrophe: UInt32 = 0x27
private let space: UInt32 = 0x20
private let carriageReturn: UInt32 = 0x0D
private let lineFeed: UInt32 = 0x0A

/// The length of an English contraction (`'s 't 're 've 'm 'll 'd`) starting at `position`, or 0.
/// llama.cpp's GPT-2 splitter matches lowercase only; the Llama 3 family matches any ASCII case.
@inline(__always)
func contractionLength(_ piece: PieceCursor, at position: Int, caseInsensitive: Bool) -> Int {
    guard piece.codepoint(position) == apostrophe && position + 1 < piece.end else { return 0 }
    @inline(__always) func letter(_ offset: Int) -> UInt32 {
        let codepoint = piece.codepoint(position + offset)
        // Only ASCII letters can lowercase onto the ASCII letters compared below.
        if caseInsensitive && (0x41...0x5A).contains(codepoint) { return codepoint + 0x20 }
        return codepoint
    }
    let next = letter(1)
    if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 { return 2 }  // s t m d
    if position + 2 < piece.end {
        let nextNext = letter(2)
        if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)  // re ve
            || (next == 0x6C && nextNext == 0x6C)  // ll
        {
            return 3
        }
    }
    return 0
}

/// The classes of GPT-2's ` ?X+` alternatives, in the order the regex tries them.
private enum GPT2Run {
    case letters, numbers, others

    init?(_ flags: CodepointFlags) {
        if flags.isLetter {
            self = .letters
        } else if flags.isNumber {
            self = .numbers
        } else if flags.isDisjoint(with: [.whitespace, .letter, .number]) && flags.isInside {
            self = .others
        } else {
            return nil
        }
    }

    @inline(__always) func continues(_ flags: CodepointFlags) -> Bool {
        switch self {
        case .letters: return flags.isLetter
        case .numbers: return flags.isNumber
        case .others: return flags.isDisjoint(with: [.whitespace, .letter, .number]) && flags.isInside
        }
    }
}

/// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
/// as llama.cpp's `unicode_regex_split_custom_gpt2` implements it.
func splitGPT2(_ piece: PieceCursor, into collector: inout PieceCollector) {
    var position = piece.start
    while position < piece.end {
        let codepoint = piece.codepoint(position)
        let flags = piece.flags(position)

        let contraction = contractionLength(piece, at: position, caseInsensitive: false)
        if contraction > 0 {
            position += collector.cut(at: position + contraction)
            continue
        }

        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        var flags2 = codepoint == space ? piece.flags(position + 1) : flags
        if let run = GPT2Run(flags2) {
            if codepoint == space { position += 1 }
            while run.continues(flags2) {
                position += 1
                flags2 = piece.flags(position)
            }
            collector.cut(at: position)
            continue
        }

        var whitespaceCount = 0
        while piece.flags(position + whitespaceCount).isWhitespace { whitespaceCount += 1 }
        if whitespaceCount > 1 && piece.codepoint(position + whitespaceCount) != PieceCursor.outOfRange {
            // `\s+(?!\S)`: leave the last space to prefix the following word.
            position += whitespaceCount - 1
            collector.cut(at: position)
            continue
        }
        if whitespaceCount > 0 {
            position += whitespaceCount
            collector.cut(at: position)
            continue
        }
        position += 1
        collector.cut(at: position)
    }
}

/// Llama 3 (`maxDigits` 3), Qwen 2 (`maxDigits` 1) and Qwen 3.5 (1, marks count as letters):
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// as llama.cpp's `unicode_regex_split_custom_llama3` / `_qwen2` / `_qwen35` implement it.
func splitLlama3Family(
    _ piece: PieceCursor, maxDigits: Int, marksAreLetters: Bool, into collector: inout PieceCollector
) {
    let wordClass: CodepointFlags = marksAreLetters ? [.letter, .mark] : [.letter]
    let notPunctuation: CodepointFlags = marksAreLetters
        ? [.whitespace, .letter, .mark, .number] : [.whitespace, .letter, .number]
    var position = piece.start
    while position < piece.end {
        let codepoint = piece.codepoint(position)
        let flags = piece.flags(position)

        let contraction = contractionLength(piece, at: position, caseInsensitive: true)
        if contraction > 0 {
            position += collector.cut(at: position + contraction)
            continue
        }

        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if !(codepoint == carriageReturn || codepoint == lineFeed || flags.isNumber) {
            if !flags.isDisjoint(with: wordClass) || !piece.flags(position + 1).isDisjoint(with: wordClass) {
                position += 1
                while !piece.flags(position).isDisjoint(with: wordClass) { position += 1 }
                collector.cut(at: position)
                continue
            }
        }

        // `\p{N}{1,3}` (or `\p{N}`): a run of digits in groups of at most `maxDigits`.
        if flags.isNumber {
            var groupStart = position
            while piece.flags(position).isNumber {
                position += 1
                if position - groupStart >= maxDigits {
                    collector.cut(at: position)
                    groupStart = position
                }
            }
            collector.cut(at: position)
            continue
        }

        // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (llama.cpp tests the first code point's own flags here).
        var flags2 = codepoint == space ? piece.flags(position + 1) : flags
        if flags2.isDisjoint(with: notPunctuation) && flags.isInside {
            if codepoint == space { position += 1 }
            while flags2.isDisjoint(with: notPunctuation) && flags2.isInside {
                position += 1
                flags2 = piece.flags(position)
            }
            var next = piece.codepoint(position)
            while next == carriageReturn || next == lineFeed {
                position += 1
                next = piece.codepoint(position)
            }
            collector.cut(at: position)
            continue
        }

        var whitespaceCount = 0
        var endOfLastLineBreak = 0
        while piece.flags(position + whitespaceCount).isWhitespace {
            let next = piece.codepoint(position + whitespaceCount)
            if next == carriageReturn || next == lineFeed {
                endOfLastLineBreak = position + whitespaceCount + 1
            }
            whitespaceCount += 1
        }
        // `\s*[\r\n]+`
        if endOfLastLineBreak > 0 {
            position = endOfLastLineBreak
            collector.cut(at: position)
            continue
        }
        // `\s+(?!\S)`
        if whitespaceCount > 1 && piece.codepoint(position + whitespaceCount) != PieceCursor.outOfRange {
            position += whitespaceCount - 1
            collector.cut(at: position)
            continue
        }
        // `\s+`
        if whitespaceCount > 0 {
            position += whitespaceCount
            collector.cut(at: position)
            continue
        }
        position += 1
        collector.cut(at: position)
    }
}
