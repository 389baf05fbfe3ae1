/// Splits the output of models that reason between `<think>` and `</think>` (Qwen3, QwQ,
/// DeepSeek-R1 and its distillations) into reasoning and content as it streams, as
/// llama-server's default reasoning format does.
///
/// The reasoning is the text from a `<think>` at the very start of the answer (after any
/// whitespace) to the first `</think>`; the whitespace the model writes after the close is not
/// part of the answer. Some templates open the block themselves (the prompt ends in `<think>`,
/// as DeepSeek-R1's and Qwen3-Thinking's do): then the answer starts inside it. Anything else is
/// content untouched — a `<think>` in the middle of an answer is the answer's text.
///
/// Tags arrive as text split across fragments anywhere, so a trailing fragment that could still
/// become a tag is held until it is decided. Feeding the text in any pieces gives the same
/// reasoning and content as feeding it at once.
public struct ThinkTags: Sendable {
    static let open = Array("<think>".utf8)
    static let close = Array("</think>".utf8)

    enum State: Sendable {
        /// Nothing but whitespace yet: a `<think>` here opens reasoning.
        case start
        case reasoning
        /// Just after `</think>`: whitespace here is dropped.
        case afterReasoning
        case content
    }

    private var state: State
    /// Text not yet routed (UTF-8; cuts fall only at `<` or at the ends of fed strings, so every
    /// slice decodes whole).
    private var pending: [UInt8] = []

    /// `opened`: the prompt ends inside a `<think>` block the template wrote.
    public init(opened: Bool = false) {
        state = opened ? .reasoning : .start
    }

    /// Whether a chat template writes `<think>` blocks.
    public static func applies(toTemplateSource source: String) -> Bool {
        source.contains("<think>") && source.contains("</think>")
    }

    /// Whether a rendered prompt leaves the model inside a `<think>` block.
    public static func promptOpensReasoning(_ prompt: String) -> Bool {
        var trimmed = Substring(prompt)
        while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
        return trimmed.hasSuffix("<think>")
    }

    public mutating func feed(_ text: String) -> ChannelOutput {
        pending += text.utf8
        return process(final: false)
    }

    /// End of generation: a held fragment is plain text of wherever it was (an unclosed block is
    /// all reasoning).
    public mutating func finish() -> ChannelOutput {
        process(final: true)
    }

    private mutating func process(final: Bool) -> ChannelOutput {
        var output = ChannelOutput()
        while !pending.isEmpty {
            switch state {
            case .content:
                output.content += Self.text(pending)
                pending.removeAll()
            case .start:
                let leading = pending.prefix { Self.isWhitespace($0) }.count
                let rest = pending[leading...]
                if rest.isEmpty {
                    // Only whitespace so far: it belongs to whatever comes next.
                    if final { output.content += Self.text(pending); pending.removeAll() }
                    return output
                }
                if rest.starts(with: Self.open) {
                    pending.removeFirst(leading + Self.open.count)
                    state = .reasoning
                } else if !final && Self.open.starts(with: rest) {
                    return output
                } else {
                    state = .content
                }
            case .reasoning:
                if let end = Self.find(Self.close, in: pending) {
                    output.reasoning += Self.text(pending[..<end])
                    pending.removeFirst(end + Self.close.count)
                    state = .afterReasoning
                } else {
                    let held = final ? 0 : Self.heldSuffix(of: pending, toward: Self.close)
                    output.reasoning += Self.text(pending[..<(pending.count - held)])
                    pending.removeFirst(pending.count - held)
                    return output
                }
            case .afterReasoning:
                let leading = pending.prefix { Self.isWhitespace($0) }.count
                pending.removeFirst(leading)
                if !pending.isEmpty { state = .content }
            }
        }
        return output
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    static func text<C: Collection<UInt8>>(_ bytes: C) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The offset of the first `marker` in `bytes`.
    static func find(_ marker: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= marker.count else { return nil }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            if bytes[start..<(start + marker.count)].elementsEqual(marker) { return start }
        }
        return nil
    }

    /// How many trailing bytes could still grow into `marker` (a suffix that is its prefix).
    static func heldSuffix(of bytes: [UInt8], toward marker: [UInt8]) -> Int {
        for length in stride(from: min(marker.count - 1, bytes.count), to: 0, by: -1)
        where bytes[(bytes.count - length)...].elementsEqual(marker[..<length]) {
            return length
        }
        return 0
    }
}

/// How a model writes its reasoning, found from its chat template; each answer gets a fresh
/// splitter from it.
public enum ReasoningSyntax: Sendable, Equatable {
    /// OpenAI's harmony channels (gpt-oss).
    case harmony
    /// `<think>…</think>` before the answer; `opened`: the prompt already opened the block.
    case thinkTags(opened: Bool)

    /// The syntax a template's output uses, given the prompt it rendered (nil: the model does
    /// not reason in a syntax Hearth knows, and its output is all content).
    public static func of(templateSource: String, renderedPrompt: String) -> ReasoningSyntax? {
        if HarmonyChannels.applies(toTemplateSource: templateSource) { return .harmony }
        if ThinkTags.applies(toTemplateSource: templateSource) {
            return .thinkTags(opened: ThinkTags.promptOpensReasoning(renderedPrompt))
        }
        return nil
    }

    /// Whether a template's model reasons (Ollama's "thinking" capability).
    public static func reasons(templateSource: String) -> Bool {
        of(templateSource: templateSource, renderedPrompt: "") != nil
    }

    public func makeSplitter() -> ReasoningSplitter {
        switch self {
        case .harmony: ReasoningSplitter(.harmony(HarmonyChannels()))
        case .thinkTags(let opened): ReasoningSplitter(.thinkTags(ThinkTags(opened: opened)))
        }
    }
}

/// One answer's reasoning splitter, whichever the syntax.
public struct ReasoningSplitter: Sendable {
    enum Kind: Sendable {
        case harmony(HarmonyChannels)
        case thinkTags(ThinkTags)
    }

    private var kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    public mutating func feed(_ text: String) -> ChannelOutput {
        switch kind {
        case .harmony(var channels):
            defer { kind = .harmony(channels) }
            return channels.feed(text)
        case .thinkTags(var tags):
            defer { kind = .thinkTags(tags) }
            return tags.feed(text)
        }
    }

    public mutating func finish() -> ChannelOutput {
        switch kind {
        case .harmony(var channels):
            defer { kind = .harmony(channels) }
            return channels.finish()
        case .thinkTags(var tags):
            defer { kind = .thinkTags(tags) }
            return tags.finish()
        }
    }
}
