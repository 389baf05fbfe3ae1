import Foundation
import Grammar
import JSON
import ToolCalls

/// One item of a response's conversation as the Responses API lists it: a message, a function
/// call the model made, that call's output sent back, or a reasoning model's thoughts (its
/// `reasoning_text` content reaches the template with the assistant turn after it; encrypted
/// reasoning, another service's, is kept but unreadable).
struct ResponseItem: Sendable {
    enum Kind: Sendable {
        case message(role: String, parts: [ContentPart])
        /// `arguments` is JSON text, as the API carries it.
        case functionCall(callID: String, name: String, arguments: String)
        case functionCallOutput(callID: String, output: String)
        case reasoning(JSONObject)
    }

    var id: String
    var kind: Kind
    var status = "completed"

    var json: JSONValue {
        switch kind {
        case .message(let role, let parts):
            return .object(["id": .string(id), "type": "message", "status": .string(status), "role": .string(role),
                            "content": .array(parts.map(\.json))])
        case .functionCall(let callID, let name, let arguments):
            return .object(["id": .string(id), "type": "function_call", "status": .string(status), "call_id": .string(callID),
                            "name": .string(name), "arguments": .string(arguments)])
        case .functionCallOutput(let callID, let output):
            return .object(["id": .string(id), "type": "function_call_output", "status": .string(status),
                            "call_id": .string(callID), "output": .string(output)])
        case .reasoning(var object):
            object["id"] = .string(id)
            return .object(object)
        }
    }

    /// An id in OpenAI's style: the kind's prefix and 32 hex digits.
    static func makeID(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}

/// A piece of a message's content.
struct ContentPart: Sendable {
    /// `input_text`, `output_text` or `refusal`.
    var type: String
    var text: String
    /// For `output_text`: each token's log-probability, when the request included them.
    var logprobs: [JSONValue] = []

    var json: JSONValue {
        switch type {
        case "output_text": .object(["type": "output_text", "text": .string(text), "annotations": [], "logprobs": .array(logprobs)])
        case "refusal": .object(["type": "refusal", "refusal": .string(text)])
        default: .object(["type": .string(type), "text": .string(text)])
        }
    }
}

/// Reading a Responses request's `input`, `tools`, `tool_choice`, `text` and the other fields
/// that are more than a number, each refused with a 400 naming the field.
enum ResponseFields {
    static let maximumItems = 10_000

    /// `input`: a string (one user message) or a list of items; `item_reference`s are looked up
    /// with `resolve` (the stored responses' output items).
    static func inputItems(_ value: JSONValue?, resolve: (String) -> ResponseItem? = { _ in nil }) throws(APIError) -> [ResponseItem] {
        switch value {
        case nil:
            throw .invalidField("input", "is required")
        case .string(let text)?:
            return [ResponseItem(id: ResponseItem.makeID("msg"), kind: .message(role: "user", parts: [ContentPart(type: "input_text", text: text)]))]
        case .array(let list)?:
            guard list.count <= maximumItems else { throw .invalidField("input", "at most \(maximumItems) items, got \(list.count)") }
            var items: [ResponseItem] = []
            for (index, element) in list.enumerated() { items.append(try item(element, path: "input[\(index)]", resolve: resolve)) }
            return items
        case let other?:
            throw .invalidField("input", "expected a string or a list of items, got \(other.typeName)")
        }
    }

    static func item(_ value: JSONValue, path: String, resolve: (String) -> ResponseItem? = { _ in nil }) throws(APIError) -> ResponseItem {
        let fields = try RequestFields(value, path: path + ".")
        // An item with a role and no type is a message ("easy input message").
        guard let type = try fields.string("type") ?? (fields.value("role") != nil ? "message" : nil) else {
            throw .invalidField(path + ".type", "is required (or 'role', for a message)")
        }
        switch type {
        case "message":
            try fields.rejectUnknown(known: ["type", "id", "role", "content", "status", "phase"])
            let role = try fields.requiredString("role")
            guard ["user", "system", "developer", "assistant"].contains(role) else {
                throw .invalidField(path + ".role", "expected user, system, developer or assistant, got '\(role)'")
            }
            _ = try fields.string("phase")
            let parts = try contentParts(fields.value("content"), role: role, path: path + ".content")
            return ResponseItem(id: try fields.string("id") ?? ResponseItem.makeID("msg"), kind: .message(role: role, parts: parts),
                                status: try status(fields, path: path))
        case "function_call":
            try fields.rejectUnknown(known: ["type", "id", "call_id", "name", "arguments", "status"],
                                     unsupported: ["namespace": "tool namespaces are not supported"])
            let name = try fields.requiredString("name")
            let arguments = try fields.requiredString("arguments")
            // Checked here, so a conversation stored for `previous_response_id` always reads back.
            _ = try ToolFields.arguments(.string(arguments), field: path + ".arguments")
            return ResponseItem(id: try fields.string("id") ?? ResponseItem.makeID("fc"),
                                kind: .functionCall(callID: try fields.requiredString("call_id"), name: name, arguments: arguments),
                                status: try status(fields, path: path))
        case "function_call_output":
            try fields.rejectUnknown(known: ["type", "id", "call_id", "output", "status", "name"])
            _ = try fields.string("name")
            let output = try outputText(fields.value("output"), path: path + ".output")
            return ResponseItem(id: try fields.string("id") ?? ResponseItem.makeID("fco"),
                                kind: .functionCallOutput(callID: try fields.requiredString("call_id"), output: output),
                                status: try status(fields, path: path))
        case "reasoning":
            // Accepted so that a client can send back what it was given; skipped, since no model
            // here reasons in items or could read another model's encrypted reasoning.
            return ResponseItem(id: try fields.string("id") ?? ResponseItem.makeID("rs"), kind: .reasoning(fields.object))
        case "item_reference":
            try fields.rejectUnknown(known: ["type", "id"])
            let id = try fields.requiredString("id")
            guard let item = resolve(id) else {
                throw APIError(.notFound, "invalid '\(path).id': no stored response holds an output item '\(id)' (it was not stored, "
                               + "was deleted, or was evicted: responses are kept in memory); send the item itself", parameter: path + ".id")
            }
            return item
        default:
            throw .unsupported(path + ".type", "only message, function_call, function_call_output, item_reference and reasoning items, got '\(type)'")
        }
    }

    static func status(_ fields: RequestFields, path: String) throws(APIError) -> String {
        guard let status = try fields.string("status") else { return "completed" }
        guard ["in_progress", "completed", "incomplete"].contains(status) else {
            throw .invalidField(path + ".status", "expected in_progress, completed or incomplete, got '\(status)'")
        }
        return status
    }

    /// A message's `content`: a string, or a list of `input_text`, `output_text` and `refusal` parts.
    static func contentParts(_ value: JSONValue?, role: String, path: String) throws(APIError) -> [ContentPart] {
        switch value {
        case .string(let text)?:
            return [ContentPart(type: role == "assistant" ? "output_text" : "input_text", text: text)]
        case .array(let list)?:
            var parts: [ContentPart] = []
            for (index, element) in list.enumerated() {
                let partPath = "\(path)[\(index)]"
                let fields = try RequestFields(element, path: partPath + ".")
                let type = try fields.requiredString("type")
                switch type {
                case "input_text", "output_text":
                    // Annotations (citations) and log-probabilities describe the text; the model reads the text.
                    try fields.rejectUnknown(known: ["type", "text", "annotations", "logprobs"])
                    for key in ["annotations", "logprobs"] {
                        guard let list = fields.value(key) else { continue }
                        guard case .array = list else { throw .invalidField("\(partPath).\(key)", "expected a list, got \(list.typeName)") }
                    }
                    parts.append(ContentPart(type: type, text: try fields.requiredString("text")))
                case "refusal":
                    try fields.rejectUnknown(known: ["type", "refusal"])
                    parts.append(ContentPart(type: "refusal", text: try fields.requiredString("refusal")))
                case "input_image", "input_file", "input_audio":
                    throw .unsupported(partPath + ".type", "only text: Hearth's models read no images, files or audio, got '\(type)'")
                default:
                    throw .invalidField(partPath + ".type", "expected input_text, output_text or refusal, got '\(type)'")
                }
            }
            return parts
        case nil:
            throw .invalidField(path, "is required")
        case let other?:
            throw .invalidField(path, "expected a string or a list of content parts, got \(other.typeName)")
        }
    }

    /// A function call's `output`: a string, or a list of `input_text` parts.
    static func outputText(_ value: JSONValue?, path: String) throws(APIError) -> String {
        switch value {
        case .string(let text)?: return text
        case .array?:
            let parts = try contentParts(value, role: "user", path: path)
            if let refusal = parts.firstIndex(where: { $0.type == "refusal" }) {
                throw .invalidField("\(path)[\(refusal)].type", "a function's output holds input_text parts")
            }
            return parts.map(\.text).joined(separator: "\n")
        case nil: throw .invalidField(path, "is required")
        case let other?: throw .invalidField(path, "expected a string or a list of input_text parts, got \(other.typeName)")
        }
    }

    /// The chat turns the model sees: the instructions as a system message, then the items. A
    /// function call joins the assistant message right before it (the API lists them as separate
    /// items, chat templates as one assistant turn), and an output must answer a call made
    /// earlier in the conversation. Items before `firstRequestItem` came from the previous
    /// response; errors name the request's own items by their index in `input`.
    static func turns(instructions: String?, items: [ResponseItem], firstRequestItem: Int = 0) throws(APIError) -> [ChatTurn] {
        var turns: [ChatTurn] = []
        if let instructions { turns.append(.plain(role: "system", content: instructions, name: nil)) }
        // Thoughts read from reasoning items, for the assistant turn that follows them.
        var reasoning: String?
        for (index, item) in items.enumerated() {
            switch item.kind {
            case .message(let role, let parts):
                let text = parts.map(\.text).joined(separator: "\n")
                let thoughts = role == "assistant" ? reasoning : nil
                if role == "assistant" { reasoning = nil }
                turns.append(.plain(role: role == "developer" ? "system" : role, content: text, name: nil, reasoning: thoughts))
            case .functionCall(let callID, let name, let arguments):
                let call = ToolCall.fromRequest(id: callID, name: name, arguments: .string(arguments))
                switch turns.last {
                case .toolCalls(let content, let calls, let thoughts)?:
                    turns[turns.count - 1] = .toolCalls(content: content, calls: calls + [call], reasoning: Self.joined(thoughts, reasoning))
                case .plain("assistant", let content, _, let thoughts)?:
                    turns[turns.count - 1] = .toolCalls(content: content.isEmpty ? nil : content, calls: [call],
                                                        reasoning: Self.joined(thoughts, reasoning))
                default:
                    turns.append(.toolCalls(content: nil, calls: [call], reasoning: reasoning))
                }
                reasoning = nil
            case .functionCallOutput(let callID, let output):
                guard let name = ToolFields.callName(callID, in: turns) else {
                    let field = index >= firstRequestItem ? "input[\(index - firstRequestItem)].call_id" : "previous_response_id"
                    throw .invalidField(field, "no function_call with call_id '\(callID)' comes before this output")
                }
                turns.append(.toolResult(content: output, callID: callID, name: name))
            case .reasoning(let object):
                reasoning = Self.joined(reasoning, Self.reasoningText(object))
            }
        }
        return turns
    }

    static func joined(_ first: String?, _ second: String?) -> String? {
        let parts = [first, second].compactMap { $0 }.filter { !$0.isEmpty }
        return parts.isEmpty ? nil : parts.joined(separator: "\n")
    }

    /// The readable thoughts of a reasoning item: its `reasoning_text` content (its summary is a
    /// digest of the same, and encrypted content is not readable here).
    static func reasoningText(_ object: JSONObject) -> String? {
        guard case .array(let parts)? = object["content"] else { return nil }
        let texts = parts.compactMap { part -> String? in
            guard case .object(let fields) = part, fields["type"] == .string("reasoning_text"), case .string(let text)? = fields["text"] else {
                return nil
            }
            return text
        }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    // MARK: tools

    /// `tools`: `[{"type": "function", "name", "description", "parameters", "strict"}]`, flat as
    /// the Responses API has them (chat completions nests them under `function`). Returns the
    /// definitions and the tools as the response echoes them. Each tool's parameters must
    /// compile to a grammar (checked here, before any model loads).
    static func tools(_ value: JSONValue?) throws(APIError) -> (definitions: [ToolDefinition], echo: [JSONValue]) {
        guard let value else { return ([], []) }
        guard case .array(let list) = value else { throw .invalidField("tools", "expected a list of tools, got \(value.typeName)") }
        guard list.count <= 128 else { throw .invalidField("tools", "at most 128 tools, got \(list.count)") }
        var definitions: [ToolDefinition] = []
        var echo: [JSONValue] = []
        for (index, item) in list.enumerated() {
            let path = "tools[\(index)]"
            let fields = try RequestFields(item, path: path + ".")
            let type = try fields.requiredString("type")
            guard type == "function" else {
                throw .unsupported(path + ".type", "only function tools; the built-in '\(type)' tool runs on OpenAI's servers")
            }
            try fields.rejectUnknown(known: ["type", "name", "description", "parameters", "strict", "defer_loading", "allowed_callers"],
                                     unsupported: ["output_schema": "a tool's output schema is not shown to the model"])
            let name = try fields.requiredString("name")
            guard ToolFields.isValidName(name) else {
                throw .invalidField(path + ".name", "must be 1 to 64 letters, digits, '_', '-' or '.', got '\(name)'")
            }
            guard !definitions.contains(where: { $0.name == name }) else { throw .invalidField(path + ".name", "'\(name)' is offered twice") }
            if try fields.bool("defer_loading") == true {
                throw .unsupported(path + ".defer_loading", "every tool is shown to the model; there is no tool search")
            }
            if let callers = fields.value("allowed_callers") {
                guard case .array(let names) = callers, names.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                    throw .invalidField(path + ".allowed_callers", "expected a list of strings")
                }
                guard names.contains(.string("direct")) else {
                    throw .unsupported(path + ".allowed_callers", "the model calls tools directly; the list must hold 'direct'")
                }
            }
            // Hearth constrains every call to its schema, so strict (the Responses API's default) always holds.
            let strict = try fields.bool("strict") ?? true
            let description = try fields.string("description")
            var parameters = fields.value("parameters") ?? .object(["type": "object", "properties": .object([:])])
            if case .object(let object) = parameters, object.pairs.isEmpty {
                parameters = .object(["type": "object", "properties": .object([:])])
            }
            do {
                _ = try GBNFBuilder().addSchema(parameters, name: "arguments")
            } catch {
                throw .invalidField(path + ".parameters", "\(error)")
            }
            definitions.append(ToolDefinition(name: name, description: description, parameters: parameters))
            echo.append(.object(["type": "function", "name": .string(name), "description": description.map(JSONValue.string) ?? .null,
                                 "parameters": parameters, "strict": .bool(strict)]))
        }
        return (definitions, echo)
    }

    /// `tool_choice`: "none", "auto", "required", `{"type": "function", "name"}`, or
    /// `{"type": "allowed_tools", "mode", "tools": [{"type": "function", "name"}]}` (which narrows
    /// the tools the model sees). Returns the choice, the tools offered to the model, and the echo.
    static func toolChoice(_ value: JSONValue?, tools: [ToolDefinition]) throws(APIError)
        -> (choice: ToolChoice, offered: [ToolDefinition], echo: JSONValue)
    {
        switch value {
        case nil, .string("auto")?: return (.auto, tools, "auto")
        case .string("none")?: return (.none, tools, "none")
        case .string("required")?:
            guard !tools.isEmpty else { throw .invalidField("tool_choice", "'required' needs at least one tool in 'tools'") }
            return (.required, tools, "required")
        case .string(let other)?:
            throw .invalidField("tool_choice", "expected 'none', 'auto', 'required' or an object, got '\(other)'")
        case .object?:
            let fields = try RequestFields(value!, path: "tool_choice.")
            let type = try fields.requiredString("type")
            switch type {
            case "function":
                try fields.rejectUnknown(known: ["type", "name"])
                let name = try fields.requiredString("name")
                guard tools.contains(where: { $0.name == name }) else {
                    throw .invalidField("tool_choice.name", "'\(name)' is not one of the tools offered")
                }
                return (.function(name), tools, .object(["type": "function", "name": .string(name)]))
            case "allowed_tools":
                try fields.rejectUnknown(known: ["type", "mode", "tools"])
                let mode = try fields.requiredString("mode")
                guard mode == "auto" || mode == "required" else {
                    throw .invalidField("tool_choice.mode", "expected 'auto' or 'required', got '\(mode)'")
                }
                guard case .array(let list)? = fields.value("tools"), !list.isEmpty else {
                    throw .invalidField("tool_choice.tools", "expected a non-empty list of tools")
                }
                var offered: [ToolDefinition] = []
                for (index, element) in list.enumerated() {
                    let allowed = try RequestFields(element, path: "tool_choice.tools[\(index)].")
                    try allowed.rejectUnknown(known: ["type", "name"])
                    let allowedType = try allowed.requiredString("type")
                    guard allowedType == "function" else {
                        throw .unsupported("tool_choice.tools[\(index)].type", "only function tools, got '\(allowedType)'")
                    }
                    let name = try allowed.requiredString("name")
                    guard let tool = tools.first(where: { $0.name == name }) else {
                        throw .invalidField("tool_choice.tools[\(index)].name", "'\(name)' is not one of the tools offered")
                    }
                    if !offered.contains(where: { $0.name == name }) { offered.append(tool) }
                }
                let echoed: [JSONValue] = offered.map { .object(["type": "function", "name": .string($0.name)]) }
                return (mode == "required" ? .required : .auto, offered,
                        .object(["type": "allowed_tools", "mode": .string(mode), "tools": .array(echoed)]))
            default:
                throw .unsupported("tool_choice.type", "only function tools, got '\(type)'")
            }
        case let other?:
            throw .invalidField("tool_choice", "expected a string or an object, got \(other.typeName)")
        }
    }

    // MARK: text, metadata, include, reasoning

    /// `text`: `{"format": {"type": "text" | "json_object" | "json_schema", …}, "verbosity"}`.
    /// Returns the format to enforce (nil: free text) and the echo.
    static func textFormat(_ value: JSONValue?) throws(APIError) -> (format: ResponseFormat?, echo: JSONValue) {
        let plain: JSONValue = .object(["type": "text"])
        guard let value else { return (nil, .object(["format": plain, "verbosity": "medium"])) }
        let fields = try RequestFields(value, path: "text.")
        try fields.rejectUnknown(known: ["format", "verbosity"])
        if let verbosity = try fields.string("verbosity"), verbosity != "medium" {
            guard verbosity == "low" || verbosity == "high" else {
                throw .invalidField("text.verbosity", "expected low, medium or high, got '\(verbosity)'")
            }
            throw .unsupported("text.verbosity", "Hearth's models have no verbosity setting; send 'medium' or leave it out")
        }
        guard let formatValue = fields.value("format") else { return (nil, .object(["format": plain, "verbosity": "medium"])) }
        let format = try RequestFields(formatValue, path: "text.format.")
        let type = try format.requiredString("type")
        switch type {
        case "text":
            try format.rejectUnknown(known: ["type"])
            return (nil, .object(["format": plain, "verbosity": "medium"]))
        case "json_object":
            try format.rejectUnknown(known: ["type"])
            return (.jsonObject, .object(["format": .object(["type": "json_object"]), "verbosity": "medium"]))
        case "json_schema":
            try format.rejectUnknown(known: ["type", "name", "schema", "strict", "description"])
            let name = try format.requiredString("name")
            guard !name.isEmpty, name.utf8.count <= 64,
                  name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") })
            else { throw .invalidField("text.format.name", "must be 1 to 64 letters, digits, '_' or '-', got '\(name)'") }
            guard let schema = format.value("schema") else { throw .invalidField("text.format.schema", "is required") }
            guard case .object = schema else { throw .invalidField("text.format.schema", "expected a JSON Schema object, got \(schema.typeName)") }
            let strict = try format.bool("strict") ?? false
            var echoed: JSONObject = ["type": "json_schema", "name": .string(name), "schema": schema, "strict": .bool(strict)]
            if let description = try format.string("description") { echoed["description"] = .string(description) }
            return (.schema(schema), .object(["format": .object(echoed), "verbosity": "medium"]))
        default:
            throw .invalidField("text.format.type", "expected 'text', 'json_object' or 'json_schema', got '\(type)'")
        }
    }

    /// `metadata`: at most 16 string values, keys of at most 64 characters, values of at most 512.
    static func metadata(_ value: JSONValue?) throws(APIError) -> JSONValue {
        guard let value else { return .object([:]) }
        guard case .object(let object) = value else { throw .invalidField("metadata", "expected an object, got \(value.typeName)") }
        guard object.pairs.count <= 16 else { throw .invalidField("metadata", "at most 16 keys, got \(object.pairs.count)") }
        for (key, entry) in object.pairs {
            guard key.count <= 64 else { throw .invalidField("metadata", "keys are at most 64 characters, got '\(key.prefix(80))'") }
            guard case .string(let text) = entry else { throw .invalidField("metadata.\(key)", "expected a string, got \(entry.typeName)") }
            guard text.count <= 512 else { throw .invalidField("metadata.\(key)", "at most 512 characters, got \(text.count)") }
        }
        return value
    }

    /// `include`: what else the response should carry. Log-probabilities are given; encrypted
    /// reasoning is trivially given (no reasoning items are produced); the rest belongs to tools
    /// and images Hearth does not have. Returns whether log-probabilities were asked for.
    static func includesLogprobs(_ value: JSONValue?) throws(APIError) -> Bool {
        guard let value else { return false }
        guard case .array(let list) = value else { throw .invalidField("include", "expected a list of strings, got \(value.typeName)") }
        var logprobs = false
        for (index, element) in list.enumerated() {
            switch element {
            case .string("message.output_text.logprobs"): logprobs = true
            case .string("reasoning.encrypted_content"): break
            case .string(let other):
                throw .unsupported("include[\(index)]", "only 'message.output_text.logprobs' and 'reasoning.encrypted_content', got '\(other)'")
            default:
                throw .invalidField("include[\(index)]", "expected a string, got \(element.typeName)")
            }
        }
        return logprobs
    }

    /// `reasoning`: `{"effort", "summary"}`. The effort goes to the chat template as
    /// `reasoning_effort` (gpt-oss's writes it into its system message; "xhigh" is gpt-oss's
    /// "high"); summaries are not written (the thoughts themselves come as `reasoning_text`).
    static func reasoningEffort(_ value: JSONValue?) throws(APIError) -> String? {
        guard let value else { return nil }
        let fields = try RequestFields(value, path: "reasoning.")
        try fields.rejectUnknown(known: ["effort", "summary", "generate_summary"])
        if let effort = try fields.string("effort"), !["none", "minimal", "low", "medium", "high", "xhigh"].contains(effort) {
            throw .invalidField("reasoning.effort", "expected none, minimal, low, medium, high or xhigh, got '\(effort)'")
        }
        for key in ["summary", "generate_summary"] {
            if let summary = try fields.string(key), !["auto", "concise", "detailed"].contains(summary) {
                throw .invalidField("reasoning.\(key)", "expected auto, concise or detailed, got '\(summary)'")
            }
        }
        let effort = try fields.string("effort")
        return effort == "xhigh" ? "high" : effort
    }
}
