import Grammar
import JSON

/// A function the app offers the model (OpenAI's `tools[].function`, which Ollama shares).
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The JSON Schema of the arguments; `{}` or an absent schema is stored as `{"type":"object"}`,
    /// since arguments are always an object.
    public var parameters: JSONValue

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil) {
        self.name = name
        self.description = description
        self.parameters = Self.normalizedSchema(parameters)
    }

    /// Reads one entry of a request's `tools` array: `{"type":"function","function":{name, description, parameters}}`,
    /// or the bare function object. Nil when there is no usable name.
    public init?(json: JSONValue) {
        let function = json["function"] ?? json
        guard case .string(let name)? = function["name"], !name.isEmpty else { return nil }
        var description: String?
        if case .string(let text)? = function["description"] { description = text }
        self.init(name: name, description: description, parameters: function["parameters"])
    }

    private static func normalizedSchema(_ schema: JSONValue?) -> JSONValue {
        switch schema {
        case nil, .null: return ["type": "object"]
        case .object(let object) where object.pairs.isEmpty: return ["type": "object"]
        case let schema?: return schema
        }
    }
}

/// Which calls the model may or must make (OpenAI's `tool_choice`).
public enum ToolChoice: Sendable, Equatable {
    /// No calls: the tools are still shown but output is plain content.
    case none
    /// The model decides; a call, once started, is constrained.
    case auto
    /// The output must be one call or more.
    case required
    /// The output must be a call of this function.
    case function(String)

    /// Reads OpenAI's `tool_choice`: `"none"`, `"auto"`, `"required"` (or `"any"`), or
    /// `{"type":"function","function":{"name":…}}`. Nil for anything else.
    public init?(json: JSONValue) {
        switch json {
        case .string("none"): self = .none
        case .string("auto"): self = .auto
        case .string("required"), .string("any"): self = .required
        default:
            guard case .string(let name)? = (json["function"] ?? json)["name"] else { return nil }
            self = .function(name)
        }
    }
}

/// A call the model made (or made earlier, when rendering history).
public struct ToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Always a JSON object.
    public var arguments: JSONValue

    public init(id: String = ToolCall.makeID(), name: String, arguments: JSONValue) {
        self.id = id
        self.name = name
        if case .object = arguments { self.arguments = arguments } else { self.arguments = .object(JSONObject()) }
    }

    /// A call from a request's history, where OpenAI sends `arguments` as JSON text and Ollama as
    /// an object. Text that is not a JSON object becomes `{}`.
    public static func fromRequest(id: String?, name: String, arguments: JSONValue?) -> ToolCall {
        var parsed: JSONValue = .object(JSONObject())
        switch arguments {
        case .object?: parsed = arguments!
        case .string(let text)?:
            if let value = try? JSONParser.parse(Array(text.utf8)), case .object = value { parsed = value }
        default: break
        }
        return ToolCall(id: id ?? ToolCall.makeID(), name: name, arguments: parsed)
    }

    /// The arguments as compact JSON text, as OpenAI's `function.arguments` carries them.
    public var argumentsJSON: String { arguments.serialized }

    /// An OpenAI-like id: `call_` and 24 random letters and digits.
    public static func makeID() -> String {
        "call_" + randomAlphanumerics(24)
    }

    static func randomAlphanumerics(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".unicodeScalars)
        var generator = SystemRandomNumberGenerator()
        var text = String.UnicodeScalarView()
        for _ in 0..<count { text.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]) }
        return String(text)
    }
}

/// What the parser can deliver so far, in OpenAI's streaming order.
public enum ToolCallEvent: Sendable, Equatable {
    /// Text for the message's `content`.
    case content(String)
    /// A call begins: OpenAI streams its index, id, type and name once…
    case callStarted(index: Int, id: String, name: String)
    /// …then its arguments as JSON text, in fragments that concatenate to one JSON object…
    case arguments(index: Int, fragment: String)
    /// …and the call is complete.
    case callFinished(index: Int)
}

/// The grammar that keeps calls well-formed, and when it applies.
public struct ToolConstraint: Sendable {
    public var grammar: Grammar
    /// Strings that switch the grammar on when they appear in the output; the grammar then
    /// matches from the trigger's first character. Empty: the grammar applies from the first token.
    public var triggers: [String]

    public init(grammar: Grammar, triggers: [String]) {
        self.grammar = grammar
        self.triggers = triggers
    }
}
