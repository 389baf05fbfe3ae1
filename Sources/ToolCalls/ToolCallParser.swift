import JSON

/// Splits generated text into content and tool calls, incrementally.
///
/// Text that might begin a call (a marker such as `<tool_call>`, a ```` ``` ```` fence, a `{`)
/// is held back until it is decided: it becomes a call once complete and naming an offered tool
/// with object arguments, or is released as content as soon as it cannot be one. So content
/// never carries a partial marker, and feeding the text in any pieces yields the same content
/// and calls as feeding it at once. Whitespace between content and calls is dropped.
public struct ToolCallParser: Sendable {
    private let recognizer: CallRecognizer
    /// Text received but not yet delivered, as UTF-8 (markers are ASCII, so cuts between
    /// decided and held text never split a character).
    private var pending: [UInt8] = []
    /// Trailing whitespace of the content so far: delivered only if more content follows.
    private var heldWhitespace = ""
    public private(set) var calls: [ToolCall] = []
    public private(set) var content = ""
    private var finished = false

    private static let quickDecisionBytes = 256
    private static let closingBytes: Set<UInt8> = [UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ">"), UInt8(ascii: "`")]

    /// A parser for output that may call `tools` (any syntax is recognised; see `CallRecognizer`).
    public init(tools: [ToolDefinition]) {
        recognizer = CallRecognizer(tools: tools)
    }

    /// Text generated since the last call; returns what can be delivered now. Text that might be
    /// the start of a call is held back until it is decided.
    public mutating func feed(_ text: String) -> [ToolCallEvent] {
        guard !finished else { return [] }
        // A long held call (arguments carrying a file, say) is only decided by a closing
        // bracket, tag or fence; re-reading it for every token in between would be quadratic.
        // Early decisions (first key, tool name) fall within the first bytes.
        let undecidable = pending.count > Self.quickDecisionBytes && !text.utf8.contains(where: Self.closingBytes.contains)
        pending += text.utf8
        return undecidable ? [] : process(final: false)
    }

    /// End of generation: decides held text (a call cut off right before its closing marker
    /// still counts; anything else undecided is content) and delivers the rest.
    public mutating func finish() -> [ToolCallEvent] {
        guard !finished else { return [] }
        var events = process(final: true)
        finished = true
        if calls.isEmpty, !heldWhitespace.isEmpty {
            events.append(.content(heldWhitespace))
            content += heldWhitespace
        }
        heldWhitespace = ""
        return events
    }

    private mutating func process(final: Bool) -> [ToolCallEvent] {
        var events: [ToolCallEvent] = []
        var cursor = 0
        var scan = 0
        while scan < pending.count {
            guard recognizer.mayStartCall(pending, at: scan) else {
                scan += 1
                continue
            }
            switch recognizer.recognize(pending, at: scan, final: final) {
            case .notACall:
                scan += 1
            case .needMore:
                deliverContent(pending[cursor..<scan], into: &events)
                pending.removeFirst(scan)
                return events
            case .calls(let parsed, let end):
                deliverContent(pending[cursor..<scan], into: &events)
                heldWhitespace = ""
                for call in parsed { deliverCall(call, into: &events) }
                cursor = end
                scan = end
            }
        }
        deliverContent(pending[cursor...], into: &events)
        pending.removeAll()
        return events
    }

    private mutating func deliverContent(_ bytes: ArraySlice<UInt8>, into events: inout [ToolCallEvent]) {
        guard !bytes.isEmpty else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        let body = text.dropLastWhitespace()
        guard !body.isEmpty else {
            heldWhitespace += text
            return
        }
        var delivered = heldWhitespace + body
        // Content that follows only calls starts at its first visible character.
        if content.isEmpty, !calls.isEmpty { delivered = delivered.dropFirstWhitespace() }
        heldWhitespace = String(text[body.endIndex...])
        content += delivered
        events.append(.content(delivered))
    }

    private mutating func deliverCall(_ call: ParsedCall, into events: inout [ToolCallEvent]) {
        let index = calls.count
        let toolCall = ToolCall(id: call.id ?? ToolCall.makeID(), name: call.name, arguments: call.arguments)
        calls.append(toolCall)
        events.append(.callStarted(index: index, id: toolCall.id, name: toolCall.name))
        events.append(.arguments(index: index, fragment: toolCall.argumentsJSON))
        events.append(.callFinished(index: index))
    }
}

extension String {
    /// The text without its trailing whitespace (newlines included).
    func dropLastWhitespace() -> Substring {
        var end = endIndex
        while end > startIndex {
            let previous = index(before: end)
            guard self[previous].isWhitespace else { break }
            end = previous
        }
        return self[startIndex..<end]
    }
}

extension StringProtocol {
    func dropFirstWhitespace() -> String {
        String(drop(while: \.isWhitespace))
    }
}
