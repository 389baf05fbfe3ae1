/// Turns generated tokens into text one token at a time, emitting only complete UTF-8 characters:
/// a character whose bytes arrive in several tokens (an emoji spelled with byte tokens, say) is
/// held back until it is complete. Bytes that can never form a character are emitted as U+FFFD
/// as soon as that is certain, so output never stalls for more than three bytes.
///
/// One per generation session; it holds at most three pending bytes.
///
/// ```swift
/// var decoder = StreamingDecoder(tokenizer: tokenizer)
/// for id in generated { print(decoder.append(id), terminator: "") }
/// print(decoder.finish())
/// ```
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    /// Whether control tokens (like `<|im_end|>`) appear in the text.
    public let renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.pieceSlice(id, renderSpecial: renderSpecial))
        let complete = pending.count - Self.incompleteSuffixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Ends the stream: returns whatever is pending, with an unfinished character as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Bytes still pending (an unfinished UTF-8 sequence), for inspection.
    public var pendingByteCount: Int { pending.count }

    /// The length of the trailing bytes that start a valid UTF-8 sequence but do not finish it
    /// yet; 0 when the buffer ends on a complete (or hopelessly invalid) sequence.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        // Find the last byte that is not a continuation byte, within the longest sequence (4 bytes).
        var leadIndex = bytes.count - 1
        while leadIndex >= 0 && leadIndex >= bytes.count - 4 && bytes[leadIndex] & 0xC0 == 0x80 {
            leadIndex -= 1
        }
        guard leadIndex >= 0 && leadIndex >= bytes.count - 4 else { return 0 }
        let lead = bytes[leadIndex]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return 0  // ASCII, or a byte that cannot start a sequence
        }
        let available = bytes.count - leadIndex
        guard available < needed else { return 0 }
        // The second byte's range is narrower after some lead bytes (no overlongs, no surrogates,
        // nothing past U+10FFFF); a sequence already invalid will not become valid.
        if available >= 2 {
            let second = bytes[leadIndex + 1]
            switch lead {
            case 0xE0: if second < 0xA0 { return 0 }
            case 0xED: if second > 0x9F { return 0 }
            case 0xF0: if second < 0x90 { return 0 }
            case 0xF4: if second > 0x8F { return 0 }
            default: break
            }
        }
        return available
    }
}
