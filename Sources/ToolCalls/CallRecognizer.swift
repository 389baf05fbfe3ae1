import JSON

/// A call read from the output, before it gets an id (unless the format carried one).
struct ParsedCall: Sendable, Equatable {
    var id: String?
    var name: String
    var arguments: JSONValue
}

/// The verdict on text that might begin a call.
enum Recognition: Equatable {
    /// One or more calls, ending at byte `end`.
    case calls([ParsedCall], end: Int)
    /// The text so far could still become a call.
    case needMore
    /// It is not a call: the first byte is content.
    case notACall
}

/// Why reading a call stopped early (thrown internally, turned into a `Recognition`).
enum RecognitionStop: Error {
    case needMore
    case notACall
}

/// Reads tool calls in every syntax models actually emit, whatever their family: Hermes/Qwen
/// `<tool_call>` JSON, Qwen3-Coder `<function=…>` XML, Mistral `[TOOL_CALLS]`, Llama's
/// `<|python_tag|>`, and plain JSON objects, bare or in a ```json fence. Small models often
/// ignore their template's markers, so every format accepts all of them; what makes text a call
/// is that it names an offered tool and carries object arguments.
struct CallRecognizer: Sendable {
    let toolsByName: [String: ToolDefinition]

    init(tools: [ToolDefinition]) {
        var byName: [String: ToolDefinition] = [:]
        for tool in tools where byName[tool.name] == nil { byName[tool.name] = tool }
        toolsByName = byName
    }

    static let toolCallOpen = bytes("<tool_call>")
    static let toolCallClose = bytes("</tool_call>")
    static let functionOpen = bytes("<function=")
    static let functionClose = bytes("</function>")
    static let parameterOpen = bytes("<parameter=")
    static let parameterClose = bytes("</parameter>")
    static let mistralCalls = bytes("[TOOL_CALLS]")
    static let mistralArgs = bytes("[ARGS]")
    static let mistralCallID = bytes("[CALL_ID]")
    static let pythonTag = bytes("<|python_tag|>")
    static let fence = bytes("```")
    static let startMarkers = [toolCallOpen, functionOpen, mistralCalls, pythonTag, fence]

    /// The first keys a JSON call object may open with; anything else is content at once.
    static let callObjectKeys: Set<String> = ["name", "function", "type", "arguments", "parameters", "id", "tool_name"]

    /// Whether a call could begin at `index`: a `{`, a start marker, or the beginning of one cut
    /// off by the end of the text.
    func mayStartCall(_ text: [UInt8], at index: Int) -> Bool {
        let byte = text[index]
        if byte == UInt8(ascii: "{") { return true }
        for marker in Self.startMarkers where marker[0] == byte {
            if case .mismatch = match(marker, in: text, at: index) { continue }
            return true
        }
        return false
    }

    /// Reads calls starting at `start`. With `final`, the text will not grow: what would need
    /// more is decided now (a call cut off before its closing marker still counts).
    func recognize(_ text: [UInt8], at start: Int, final: Bool) -> Recognition {
        do throws(RecognitionStop) {
            let (calls, end) = try readCalls(text, at: start, final: final)
            return .calls(calls, end: end)
        } catch .needMore {
            return final ? .notACall : .needMore
        } catch {
            return .notACall
        }
    }

    private func readCalls(_ text: [UInt8], at start: Int, final: Bool) throws(RecognitionStop) -> ([ParsedCall], Int) {
        switch text[start] {
        case UInt8(ascii: "{"):
            let (call, end) = try readCallObject(text, at: start, requireArguments: true)
            return ([call], end)
        case UInt8(ascii: "`"):
            return try readFence(text, at: start, final: final)
        case UInt8(ascii: "["):
            return try readMistral(text, at: start)
        default:
            switch (match(Self.toolCallOpen, in: text, at: start), match(Self.functionOpen, in: text, at: start),
                    match(Self.pythonTag, in: text, at: start)) {
            case (.matched, _, _):
                return try readToolCallBlock(text, at: start, final: final)
            case (_, .matched, _):
                let (call, end) = try readXMLFunction(text, at: start)
                return ([call], end)
            case (_, _, .matched(let next)):
                let (call, end) = try readCallObject(text, at: skipWhitespace(text, from: next), requireArguments: false)
                return ([call], end)
            case (.partial, _, _), (_, .partial, _), (_, _, .partial):
                throw .needMore
            default:
                throw .notACall
            }
        }
    }

    // MARK: - Family syntaxes

    /// `<tool_call>` then calls (JSON objects, a JSON array, a fence or an XML function), then
    /// `</tool_call>`.
    private func readToolCallBlock(_ text: [UInt8], at start: Int, final: Bool) throws(RecognitionStop) -> ([ParsedCall], Int) {
        var index = try expect(Self.toolCallOpen, in: text, at: start)
        var calls: [ParsedCall] = []
        while true {
            index = skipWhitespace(text, from: index)
            guard index < text.count else {
                if final, !calls.isEmpty { return (calls, index) }
                throw .needMore
            }
            switch match(Self.toolCallClose, in: text, at: index) {
            case .matched(let end):
                guard !calls.isEmpty else { throw .notACall }
                return (calls, end)
            case .partial:
                // Generation stopped inside the closing tag: the calls are complete.
                if final, !calls.isEmpty { return (calls, text.count) }
                throw .needMore
            case .mismatch: break
            }
            let (more, end) = try readInnerCalls(text, at: index, final: final)
            calls += more
            index = end
        }
    }

    /// One call (or an array of calls) inside a family's markers.
    private func readInnerCalls(_ text: [UInt8], at index: Int, final: Bool) throws(RecognitionStop) -> ([ParsedCall], Int) {
        switch text[index] {
        case UInt8(ascii: "{"):
            let (call, end) = try readCallObject(text, at: index, requireArguments: false)
            return ([call], end)
        case UInt8(ascii: "["):
            return try readCallArray(text, at: index)
        case UInt8(ascii: "`"):
            return try readFence(text, at: index, final: final)
        default:
            let (call, end) = try readXMLFunction(text, at: index)
            return ([call], end)
        }
    }

    /// ```` ```json ```` (or a bare ```` ``` ````), a call object or array, and the closing fence.
    private func readFence(_ text: [UInt8], at start: Int, final: Bool) throws(RecognitionStop) -> ([ParsedCall], Int) {
        var index = try expect(Self.fence, in: text, at: start)
        let languageStart = index
        while index < text.count, isLetter(text[index]) { index += 1 }
        let language = String(decoding: text[languageStart..<index], as: UTF8.self).lowercased()
        guard index < text.count else {
            if "json".hasPrefix(language) { throw .needMore }
            throw .notACall
        }
        guard language.isEmpty || language == "json" else { throw .notACall }
        index = skipWhitespace(text, from: index)
        guard index < text.count else { throw .needMore }
        let calls: [ParsedCall]
        switch text[index] {
        case UInt8(ascii: "{"):
            let (call, end) = try readCallObject(text, at: index, requireArguments: true)
            (calls, index) = ([call], end)
        case UInt8(ascii: "["):
            (calls, index) = try readCallArray(text, at: index)
        default: throw .notACall
        }
        index = skipWhitespace(text, from: index)
        switch match(Self.fence, in: text, at: index) {
        case .matched(let end): return (calls, end)
        case .partial:
            // Generation may end (or the lazy grammar may stop it) right after the object.
            if final { return (calls, text.count) }
            throw .needMore
        case .mismatch: throw .notACall
        }
    }

    /// Mistral: `[TOOL_CALLS][{"name":…,"arguments":{…},"id":…}, …]` (Nemo), or
    /// `[TOOL_CALLS]name[ARGS]{…}` (newer), optionally with `[CALL_ID]id` before `[ARGS]`.
    private func readMistral(_ text: [UInt8], at start: Int) throws(RecognitionStop) -> ([ParsedCall], Int) {
        var index = skipWhitespace(text, from: try expect(Self.mistralCalls, in: text, at: start))
        guard index < text.count else { throw .needMore }
        if text[index] == UInt8(ascii: "[") { return try readCallArray(text, at: index) }
        if text[index] == UInt8(ascii: "{") {
            let (call, end) = try readCallObject(text, at: index, requireArguments: false)
            return ([call], end)
        }
        let nameStart = index
        while index < text.count, text[index] != UInt8(ascii: "[") { index += 1 }
        let name = String(decoding: text[nameStart..<index], as: UTF8.self).trimmingWhitespace()
        guard index < text.count else {
            if toolsByName.keys.contains(where: { $0.hasPrefix(name) }) { throw .needMore }
            throw .notACall
        }
        guard toolsByName[name] != nil else { throw .notACall }
        var id: String?
        if case .partial = match(Self.mistralCallID, in: text, at: index) { throw .needMore }
        if case .matched(let afterMarker) = match(Self.mistralCallID, in: text, at: index) {
            var idEnd = afterMarker
            while idEnd < text.count, text[idEnd] != UInt8(ascii: "[") { idEnd += 1 }
            guard idEnd < text.count else { throw .needMore }
            id = String(decoding: text[afterMarker..<idEnd], as: UTF8.self).trimmingWhitespace()
            index = idEnd
        }
        index = skipWhitespace(text, from: try expect(Self.mistralArgs, in: text, at: index))
        guard index < text.count else { throw .needMore }
        guard text[index] == UInt8(ascii: "{") else { throw .notACall }
        guard let end = try balancedEnd(text, from: index) else { throw .needMore }
        guard let arguments = parseObject(text[index..<end]) else { throw .notACall }
        return ([ParsedCall(id: id?.isEmpty == false ? id : nil, name: name, arguments: arguments)], end)
    }

    /// Qwen3-Coder: `<function=NAME>` then `<parameter=P>\nVALUE\n</parameter>` for each
    /// argument, then `</function>`. String values are raw text; others are JSON.
    private func readXMLFunction(_ text: [UInt8], at start: Int) throws(RecognitionStop) -> (ParsedCall, Int) {
        var index = try expect(Self.functionOpen, in: text, at: start)
        let (name, afterName) = try readUntil(UInt8(ascii: ">"), in: text, from: index)
        guard let tool = toolsByName[name] else {
            if afterName == nil, toolsByName.keys.contains(where: { $0.hasPrefix(name) }) { throw .needMore }
            throw .notACall
        }
        guard let afterName else { throw .needMore }
        index = afterName
        var arguments = JSONObject()
        while true {
            index = skipWhitespace(text, from: index)
            guard index < text.count else { throw .needMore }
            if case .matched(let end) = match(Self.functionClose, in: text, at: index) {
                return (ParsedCall(id: nil, name: name, arguments: .object(arguments)), end)
            }
            let valueStart: Int
            let parameter: String
            switch match(Self.parameterOpen, in: text, at: index) {
            case .mismatch:
                if case .partial = match(Self.functionClose, in: text, at: index) { throw .needMore }
                throw .notACall
            case .partial: throw .needMore
            case .matched(let next):
                let (key, after) = try readUntil(UInt8(ascii: ">"), in: text, from: next)
                guard let after else { throw .needMore }
                (parameter, valueStart) = (key, after)
            }
            guard let closeStart = find(Self.parameterClose, in: text, from: valueStart) else { throw .needMore }
            var raw = String(decoding: text[valueStart..<closeStart], as: UTF8.self)
            // The template writes a newline after the opening tag and before the closing one.
            if raw.hasPrefix("\n") { raw.removeFirst() }
            if raw.hasSuffix("\n") { raw.removeLast() }
            arguments[parameter] = Self.parameterValue(raw, schema: tool.parameters["properties"]?[parameter])
            index = closeStart + Self.parameterClose.count
        }
    }

    static func parameterValue(_ raw: String, schema: JSONValue?) -> JSONValue {
        if case .string("string")? = schema?["type"] { return .string(raw) }
        let trimmed = raw.trimmingWhitespace()
        if let value = try? JSONParser.parse(Array(trimmed.utf8)) { return value }
        return .string(raw)
    }

    // MARK: - JSON calls

    /// A JSON object naming an offered tool, with object arguments (`arguments` or
    /// `parameters`, possibly as JSON text), or wrapped as `{"function": {…}}`. Decides as early
    /// as it can: the first key, then the name, rule most content out before the object closes.
    func readCallObject(_ text: [UInt8], at start: Int, requireArguments: Bool) throws(RecognitionStop) -> (ParsedCall, Int) {
        guard start < text.count else { throw .needMore }
        guard text[start] == UInt8(ascii: "{") else { throw .notACall }
        try checkCallObjectOpening(text, at: start)
        guard let end = try balancedEnd(text, from: start) else { throw .needMore }
        guard let value = try? JSONParser.parse(text[start..<end]),
              let call = interpretCall(value, requireArguments: requireArguments)
        else { throw .notACall }
        return (call, end)
    }

    /// `[` call objects `]`; every element must be a call.
    private func readCallArray(_ text: [UInt8], at start: Int) throws(RecognitionStop) -> ([ParsedCall], Int) {
        let first = skipWhitespace(text, from: start + 1)
        guard first < text.count else { throw .needMore }
        guard text[first] == UInt8(ascii: "{") else { throw .notACall }
        try checkCallObjectOpening(text, at: first)
        guard let end = try balancedEnd(text, from: start) else { throw .needMore }
        guard case .array(let elements)? = try? JSONParser.parse(text[start..<end]), !elements.isEmpty else { throw .notACall }
        var calls: [ParsedCall] = []
        for element in elements {
            guard let call = interpretCall(element, requireArguments: false) else { throw .notACall }
            calls.append(call)
        }
        return (calls, end)
    }

    /// Rules out objects whose first key is not a call's, or whose `name` is not an offered tool,
    /// as soon as the text shows it.
    private func checkCallObjectOpening(_ text: [UInt8], at start: Int) throws(RecognitionStop) {
        var index = skipWhitespace(text, from: start + 1)
        guard index < text.count else { throw .needMore }
        guard text[index] == UInt8(ascii: "\"") else { throw .notACall }
        let (key, afterKey) = try readSimpleString(text, from: index + 1)
        guard let afterKey else {
            if Self.callObjectKeys.contains(where: { $0.hasPrefix(key) }) { throw .needMore }
            throw .notACall
        }
        guard Self.callObjectKeys.contains(key) else { throw .notACall }
        guard key == "name" else { return }
        index = skipWhitespace(text, from: afterKey)
        guard index < text.count else { throw .needMore }
        guard text[index] == UInt8(ascii: ":") else { throw .notACall }
        index = skipWhitespace(text, from: index + 1)
        guard index < text.count else { throw .needMore }
        guard text[index] == UInt8(ascii: "\"") else { throw .notACall }
        let (name, afterName) = try readSimpleString(text, from: index + 1)
        if afterName == nil {
            if toolsByName.keys.contains(where: { $0.hasPrefix(name) }) { throw .needMore }
            throw .notACall
        }
        guard toolsByName[name] != nil else { throw .notACall }
    }

    /// The call a parsed JSON value describes, if it names an offered tool with object arguments.
    func interpretCall(_ value: JSONValue, requireArguments: Bool) -> ParsedCall? {
        guard case .object(let object) = value else { return nil }
        var id: String?
        if case .string(let text)? = object["id"], !text.isEmpty { id = text }
        if case .object? = object["function"] {
            guard var call = interpretCall(object["function"]!, requireArguments: requireArguments) else { return nil }
            call.id = call.id ?? id
            return call
        }
        guard case .string(let name)? = object["name"] ?? object["tool_name"], toolsByName[name] != nil else { return nil }
        let arguments: JSONValue
        switch object["arguments"] ?? object["parameters"] {
        case .object(let fields)?: arguments = .object(fields)
        case .string(let text)?:
            guard let parsed = parseObject(Array(text.utf8)[...]) else { return nil }
            arguments = parsed
        case nil, .null?:
            guard !requireArguments else { return nil }
            arguments = .object(JSONObject())
        default: return nil
        }
        return ParsedCall(id: id, name: name, arguments: arguments)
    }

    private func parseObject(_ text: ArraySlice<UInt8>) -> JSONValue? {
        guard let value = try? JSONParser.parse(text), case .object = value else { return nil }
        return value
    }

    // MARK: - Scanning

    /// The index just past the JSON object or array opening at `start`, nil while it is still
    /// open at the end of the text. Strings are skipped, so brackets inside them don't count.
    func balancedEnd(_ text: [UInt8], from start: Int) throws(RecognitionStop) -> Int? {
        var depth = 0
        var inString = false
        var escaped = false
        var index = start
        while index < text.count {
            let byte = text[index]
            index += 1
            if inString {
                if escaped { escaped = false }
                else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > JSONParser.defaultMaximumDepth { throw .notACall }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return index }
            default: break
            }
        }
        return nil
    }

    /// A string's text up to its closing quote (which must not be escaped; keys and names don't
    /// need escapes), and the index after the quote — nil when the text ends first.
    private func readSimpleString(_ text: [UInt8], from start: Int) throws(RecognitionStop) -> (String, Int?) {
        var index = start
        while index < text.count {
            switch text[index] {
            case UInt8(ascii: "\""): return (String(decoding: text[start..<index], as: UTF8.self), index + 1)
            case UInt8(ascii: "\\"), UInt8(ascii: "\n"): throw .notACall
            default: index += 1
            }
        }
        return (String(decoding: text[start..<index], as: UTF8.self), nil)
    }

    /// Text up to `terminator` (trimmed) and the index after it, nil when the text ends first.
    /// Tag contents never span lines.
    private func readUntil(_ terminator: UInt8, in text: [UInt8], from start: Int) throws(RecognitionStop) -> (String, Int?) {
        var index = start
        while index < text.count, text[index] != terminator {
            if text[index] == UInt8(ascii: "\n") || text[index] == UInt8(ascii: "<") { throw .notACall }
            index += 1
        }
        let value = String(decoding: text[start..<index], as: UTF8.self).trimmingWhitespace()
        return (value, index < text.count ? index + 1 : nil)
    }

    private func expect(_ literal: [UInt8], in text: [UInt8], at index: Int) throws(RecognitionStop) -> Int {
        switch match(literal, in: text, at: index) {
        case .matched(let end): return end
        case .partial: throw .needMore
        case .mismatch: throw .notACall
        }
    }
}

/// Whether `literal` occurs at an index: in full, cut off by the end of the text, or not.
enum LiteralMatch: Equatable {
    case matched(Int)
    case partial
    case mismatch
}

func match(_ literal: [UInt8], in text: [UInt8], at index: Int) -> LiteralMatch {
    for offset in 0..<literal.count {
        guard index + offset < text.count else { return .partial }
        if text[index + offset] != literal[offset] { return .mismatch }
    }
    return .matched(index + literal.count)
}

/// The first index at or after `start` where `literal` occurs in full.
func find(_ literal: [UInt8], in text: [UInt8], from start: Int) -> Int? {
    guard text.count >= literal.count, start <= text.count - literal.count else { return nil }
    for index in start...(text.count - literal.count) where text[index] == literal[0] {
        if case .matched = match(literal, in: text, at: index) { return index }
    }
    return nil
}

func skipWhitespace(_ text: [UInt8], from start: Int) -> Int {
    var index = start
    while index < text.count, isWhitespace(text[index]) { index += 1 }
    return index
}

func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
}

private func isLetter(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
