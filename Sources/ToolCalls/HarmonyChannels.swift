import JSON

/// Splits gpt-oss output, written in OpenAI's harmony format, into reasoning and content as it
/// streams.
///
/// gpt-oss puts a header before every message: `<|channel|>analysis<|message|>…<|end|>` is its
/// reasoning, `<|start|>assistant<|channel|>final<|message|>…` the answer, and a message with a
/// recipient (`<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{…}`, or
/// `<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>{…}`) a function
/// call. The rest of Hearth wants reasoning apart, and calls in the `<tool_call>` syntax that
/// `ToolCallParser` reads, so this routes each message by its header and rewrites calls into
/// that syntax; the markers themselves never reach the user.
///
/// Markers arrive as literal text, split across fragments anywhere, so a trailing fragment that
/// could still be a marker (`<`, `<|cha`, …) is held until it is decided; everything else is
/// delivered at once, except a call's body, held until its message ends so it can be rewritten
/// whole. Feeding the text in any pieces gives the same reasoning and content as feeding it at
/// once.
///
/// The model, not the format, is at fault in malformed output, so the choices lose no text that
/// could be the answer and never trap:
/// - Text outside any message (before the first header, as from a model that skips it, or
///   between `<|end|>` and the next `<|start|>`) is content.
/// - A message on an unknown channel, or whose header names no channel, is content.
/// - A header cut off before `<|message|>` (by an end marker, or by the end of generation) is
///   dropped: a header carries no message text.
/// - `<|message|>` or `<|constrain|>` outside a header is dropped; the text around it stays
///   where it was.
/// - `<|channel|>` or `<|start|>` inside a body ends that message (the model skipped `<|end|>`)
///   and opens a new header.
/// - A header naming several channels takes the last (gpt-oss sometimes writes a stray
///   `<|channel|>commentary to=assistant` before its real one); `to=assistant` names no tool.
/// - A recipient makes a message a call whatever its channel (harmony's built-in tools are
///   called from `analysis`).
/// - Messages with the same destination are joined as written, with nothing between them.
public struct HarmonyChannels: Sendable {
    /// The harmony markers gpt-oss writes (each one token, rendered as text).
    private enum Marker: Sendable, CaseIterable {
        case start, channel, constrain, message, end, call, `return`

        var literal: [UInt8] {
            switch self {
            case .start: Self.startLiteral
            case .channel: Self.channelLiteral
            case .constrain: Self.constrainLiteral
            case .message: Self.messageLiteral
            case .end: Self.endLiteral
            case .call: Self.callLiteral
            case .return: Self.returnLiteral
            }
        }

        private static let startLiteral = Array("<|start|>".utf8)
        private static let channelLiteral = Array("<|channel|>".utf8)
        private static let constrainLiteral = Array("<|constrain|>".utf8)
        private static let messageLiteral = Array("<|message|>".utf8)
        private static let endLiteral = Array("<|end|>".utf8)
        private static let callLiteral = Array("<|call|>".utf8)
        private static let returnLiteral = Array("<|return|>".utf8)
    }

    /// What the text at a `<` is.
    private enum MarkerMatch {
        case literalText
        /// The text ends inside what could still become a marker.
        case partial
        case found(Marker, end: Int)
    }

    /// Where a message's text goes.
    private enum Destination: Sendable, Equatable {
        case reasoning
        case content
        /// A function call: its body is held until the message ends, then rewritten whole.
        case call(name: String)
    }

    /// Part of a header: the marker that opened it (`<|start|>`, `<|channel|>`, `<|constrain|>`)
    /// and the text after it.
    private struct HeaderSegment: Sendable {
        var opener: Marker
        var text = ""
    }

    private enum State: Sendable {
        /// Between messages, or before the first header: text is content.
        case outside
        /// Reading a header up to `<|message|>`; nothing of it is delivered.
        case header([HeaderSegment])
        case body(Destination)
    }

    private static let markerOpener = UInt8(ascii: "<")

    private var state = State.outside
    /// Text received but not yet routed: at most a trailing fragment that may become a marker.
    /// Kept as UTF-8; cuts fall only at `<` (ASCII, never inside a multi-byte character) or at
    /// the ends of fed strings, so every slice decodes whole.
    private var pending: [UInt8] = []
    /// The body of the call being read.
    private var callBody: [UInt8] = []

    public init() {}

    /// Whether a chat template writes harmony (its source mentions both `<|channel|>` and `<|message|>`).
    public static func applies(toTemplateSource source: String) -> Bool {
        source.contains("<|channel|>") && source.contains("<|message|>")
    }

    /// Feeds generated text (any fragment); returns what can be delivered now.
    public mutating func feed(_ text: String) -> ChannelOutput {
        pending += text.utf8
        return process(final: false)
    }

    /// End of generation: delivers whatever is held (a cut-off message's text goes to its
    /// channel, a cut-off call is delivered as it stands, a held `<|…` fragment is plain text).
    public mutating func finish() -> ChannelOutput {
        var output = process(final: true)
        closeMessage(into: &output)
        state = .outside
        return output
    }

    /// Routes `pending` up to the first undecided marker fragment (with `final`, there is none:
    /// the text will not grow, so a fragment is plain text).
    private mutating func process(final: Bool) -> ChannelOutput {
        var output = ChannelOutput()
        var textStart = 0
        var index = 0
        while index < pending.count {
            guard pending[index] == Self.markerOpener else {
                index += 1
                continue
            }
            switch Self.matchMarker(in: pending, at: index) {
            case .literalText:
                index += 1
            case .partial:
                if final {
                    index += 1
                    continue
                }
                route(pending[textStart..<index], into: &output)
                pending.removeFirst(index)
                return output
            case .found(let marker, let end):
                route(pending[textStart..<index], into: &output)
                handle(marker, into: &output)
                index = end
                textStart = end
            }
        }
        route(pending[textStart...], into: &output)
        pending.removeAll()
        return output
    }

    private static func matchMarker(in bytes: [UInt8], at start: Int) -> MarkerMatch {
        var couldBecomeMarker = false
        for marker in Marker.allCases {
            let literal = marker.literal
            let available = min(literal.count, bytes.count - start)
            guard bytes[start..<start + available].elementsEqual(literal[..<available]) else { continue }
            if available == literal.count { return .found(marker, end: start + available) }
            couldBecomeMarker = true
        }
        return couldBecomeMarker ? .partial : .literalText
    }

    /// Sends text to wherever the current state says it belongs.
    private mutating func route(_ bytes: ArraySlice<UInt8>, into output: inout ChannelOutput) {
        guard !bytes.isEmpty else { return }
        switch state {
        case .outside, .body(.content):
            output.content += String(decoding: bytes, as: UTF8.self)
        case .body(.reasoning):
            output.reasoning += String(decoding: bytes, as: UTF8.self)
        case .body(.call):
            callBody += bytes
        case .header(var segments):
            // A header always has a segment: it is created with the marker that opened it.
            guard !segments.isEmpty else { return }
            segments[segments.count - 1].text += String(decoding: bytes, as: UTF8.self)
            state = .header(segments)
        }
    }

    private mutating func handle(_ marker: Marker, into output: inout ChannelOutput) {
        switch (state, marker) {
        case (.header(var segments), .channel), (.header(var segments), .constrain):
            segments.append(HeaderSegment(opener: marker))
            state = .header(segments)
        case (.header(let segments), .message):
            state = .body(Self.destination(of: segments))
        case (_, .start), (_, .channel):
            closeMessage(into: &output)
            state = .header([HeaderSegment(opener: marker)])
        case (_, .end), (_, .call), (_, .return):
            closeMessage(into: &output)
            state = .outside
        case (_, .message), (_, .constrain):
            break // Outside a header these mark nothing.
        }
    }

    /// Ends the current message: a call's held body is delivered, rewritten.
    private mutating func closeMessage(into output: inout ChannelOutput) {
        guard case .body(.call(let name)) = state else { return }
        output.content += Self.toolCallBlock(name: name, body: String(decoding: callBody, as: UTF8.self))
        callBody.removeAll()
    }

    /// Reads a header's channel and recipient: a recipient makes the message a call, else the
    /// channel decides (`analysis` is reasoning; `final`, `commentary` and anything else content).
    private static func destination(of header: [HeaderSegment]) -> Destination {
        var channel: Substring?
        var toolName: String?
        for segment in header {
            let words = segment.text.split(whereSeparator: \.isWhitespace)
            for word in words where word.hasPrefix("to=") {
                if let name = self.toolName(recipient: word.dropFirst("to=".count)) { toolName = name }
            }
            if segment.opener == .channel { channel = words.first { !$0.hasPrefix("to=") } }
        }
        if let toolName { return .call(name: toolName) }
        return channel == "analysis" ? .reasoning : .content
    }

    /// `functions.NAME` calls NAME; other recipients (`browser.search`, `python`) are named in
    /// full; `assistant`, or nothing, addresses no tool.
    private static func toolName(recipient: Substring) -> String? {
        let functionsPrefix = "functions."
        let name = recipient.hasPrefix(functionsPrefix) ? recipient.dropFirst(functionsPrefix.count) : recipient
        guard !name.isEmpty, recipient != "assistant" else { return nil }
        return String(name)
    }

    /// A call in the Hermes syntax `ToolCallParser` reads. The body goes in as the model wrote it
    /// when it is a JSON object; anything else (code for `python`, say) as a JSON string.
    static func toolCallBlock(name: String, body: String) -> String {
        var block = "<tool_call>\n{\"name\": "
        JSONValue.writeString(name, to: &block)
        block += ", \"arguments\": "
        let trimmed = body.dropLastWhitespace().dropFirstWhitespace()
        if case .object? = try? JSONParser.parse(Array(trimmed.utf8)) {
            block += trimmed
        } else {
            JSONValue.writeString(body, to: &block)
        }
        block += "}\n</tool_call>"
        return block
    }
}

/// What a reasoning splitter (`HarmonyChannels`, `ThinkTags`) can deliver after a fragment of
/// output.
public struct ChannelOutput: Sendable, Equatable {
    /// The model's reasoning (harmony's `analysis` messages, the text of a `<think>` block).
    public var reasoning: String
    /// Text the user sees. In harmony: `final` messages, commentary preambles, and each function call
    /// rewritten as `<tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>` (ARGS: the
    /// message body as the model wrote it when it is a JSON object, otherwise the body as a JSON
    /// string), which `ToolCallParser` recognises as a call.
    public var content: String

    public init(reasoning: String = "", content: String = "") {
        self.reasoning = reasoning
        self.content = content
    }
}
