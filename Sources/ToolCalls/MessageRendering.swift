import JSON
import Templates

/// Rendering conversation history that carries tool calls, in the shape each template wants.
extension ToolCallFormat {
    /// An assistant message carrying tool calls, as this template wants it: OpenAI's
    /// `tool_calls: [{"id","type":"function","function":{"name","arguments"}}]`, arguments as an
    /// object (or JSON text where the template wants that), ids the template accepts. When the
    /// template does not render tools, the calls are written into `content` as JSON lines.
    public func assistantMessage(content: String?, calls: [ToolCall]) -> TemplateValue {
        guard templateRendersTools else { return plainAssistantMessage(content: content, calls: calls) }
        let toolCalls: [TemplateValue] = calls.map { call in
            let arguments: TemplateValue = argumentsAsText ? .string(call.argumentsJSON) : templateValue(call.arguments)
            let function = TemplateObject([("name", .string(call.name)), ("arguments", arguments)])
            return .object(TemplateObject([("id", .string(templateCallID(call.id))), ("type", "function"), ("function", .object(function))]))
        }
        // Templates test `content` for truth or concatenate it; "" serves both.
        return .object(TemplateObject([("role", "assistant"), ("content", .string(content ?? "")), ("tool_calls", .array(toolCalls))]))
    }

    /// A tool-result message (`role: tool`, with `tool_call_id` and `name` when known). When the
    /// template does not render tools, a user message quoting the result.
    public func toolResultMessage(content: String, callID: String?, name: String?) -> TemplateValue {
        guard templateRendersTools else { return plainToolResultMessage(content: content, name: name) }
        var message = TemplateObject([("role", "tool"), ("content", .string(content))])
        if let callID { message["tool_call_id"] = .string(templateCallID(callID)) }
        else if templateCallID("") != "" { message["tool_call_id"] = .string(templateCallID("")) }
        if let name {
            message["name"] = .string(name)
            message["tool_name"] = .string(name)
        }
        return .object(message)
    }

    /// Mistral templates (Nemo, Small 3.2) insist on ids of 9 letters and digits; others take any id.
    func templateCallID(_ id: String) -> String {
        switch family {
        case .mistralArray, .mistralNamed: break
        default: return id
        }
        if id.count == 9, id.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) }) {
            return id
        }
        // Derived, not random, so a call and its result (rendered separately) get the same id.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var text = ""
        for _ in 0..<9 {
            text.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
            hash = hash &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019
        }
        return text
    }

    /// Rewrites request messages (already template values, in OpenAI's or Ollama's shape) for
    /// this template: assistant messages with `tool_calls` (arguments as JSON text or an object)
    /// through `assistantMessage`, `tool` messages through `toolResultMessage`; others unchanged.
    public func templateMessages(_ messages: [TemplateValue]) -> [TemplateValue] {
        messages.map { convert($0, plain: !templateRendersTools) }
    }

    /// Like `templateMessages`, but calls and results always become plain text (for templates
    /// that don't render tools, or when tools are left out of the prompt).
    public func plainMessages(_ messages: [TemplateValue]) -> [TemplateValue] {
        messages.map { convert($0, plain: true) }
    }

    /// An assistant message with its calls written into `content`, one JSON object per line.
    public func plainAssistantMessage(content: String?, calls: [ToolCall]) -> TemplateValue {
        let lines = calls.map { call in
            JSONValue.object(JSONObject([("name", .string(call.name)), ("arguments", call.arguments)])).serialized
        }
        let text = ([content ?? ""].filter { !$0.isEmpty } + lines).joined(separator: "\n")
        return .object(TemplateObject([("role", "assistant"), ("content", .string(text))]))
    }

    /// A tool result as a user message, since such templates know no `tool` role.
    public func plainToolResultMessage(content: String, name: String?) -> TemplateValue {
        let label = name.map { "Result of the tool call \($0):" } ?? "Tool result:"
        return .object(TemplateObject([("role", "user"), ("content", .string(label + "\n" + content))]))
    }

    private func convert(_ message: TemplateValue, plain: Bool) -> TemplateValue {
        guard case .object(let fields) = message, case .string(let role)? = fields["role"] else { return message }
        if role == "assistant", case .array(let entries)? = fields["tool_calls"], !entries.isEmpty {
            let calls = entries.compactMap(Self.requestCall)
            let content = Self.text(of: fields["content"])
            return plain ? plainAssistantMessage(content: content, calls: calls) : assistantMessage(content: content, calls: calls)
        }
        if role == "tool" {
            let content = Self.text(of: fields["content"]) ?? ""
            var name: String?
            if case .string(let text)? = fields["name"] ?? fields["tool_name"] { name = text }
            var callID: String?
            if case .string(let text)? = fields["tool_call_id"] { callID = text }
            return plain ? plainToolResultMessage(content: content, name: name) : toolResultMessage(content: content, callID: callID, name: name)
        }
        return message
    }

    /// A call from `tool_calls`: `{"id","type","function":{"name","arguments"}}` (OpenAI: arguments
    /// as JSON text; Ollama: an object, no id).
    private static func requestCall(_ entry: TemplateValue) -> ToolCall? {
        guard case .object(let outer) = entry else { return nil }
        var function = outer
        if case .object(let inner)? = outer["function"] { function = inner }
        guard case .string(let name)? = function["name"] else { return nil }
        var id: String?
        if case .string(let text)? = outer["id"], !text.isEmpty { id = text }
        return ToolCall.fromRequest(id: id, name: name, arguments: function["arguments"].map(jsonValue))
    }

    /// Message content as text: a string, or the text parts of a list of parts.
    private static func text(of content: TemplateValue?) -> String? {
        switch content {
        case .string(let text)?: return text
        case .array(let parts)?:
            return parts.compactMap { part -> String? in
                if case .string(let text)? = (part.objectValue?["text"]) { return text }
                return nil
            }.joined()
        case nil, .none?, .undefined?: return nil
        case let other?: return other.jsonString
        }
    }
}

extension TemplateValue {
    var objectValue: TemplateObject? {
        if case .object(let object) = self { return object }
        return nil
    }
}

/// A template value as JSON (undefined becomes null).
func jsonValue(_ value: TemplateValue) -> JSONValue {
    switch value {
    case .undefined, .none: .null
    case .bool(let flag): .bool(flag)
    case .int(let number): .int(number)
    case .double(let number): .double(number)
    case .string(let text): .string(text)
    case .array(let items): .array(items.map(jsonValue))
    case .object(let object): .object(JSONObject(object.pairs.map { ($0.0, jsonValue($0.1)) }))
    }
}
