import Engine
import JSON
import Sampling
import Store

// A created model's defaults (Ollama's Modelfile) as the routes use them: its PARAMETERs are
// the options a request starts from (the request's own options win, field by field); its
// TEMPLATE, SYSTEM and MESSAGEs shape the prompt when the model loads (`ChatCustomization`).

extension ModelCustomization {
    /// TEMPLATE, SYSTEM and MESSAGE, for the engine's chat format.
    public var chat: ChatCustomization {
        ChatCustomization(template: template, system: system, messages: messages.map { ChatMessage(role: $0.role, content: $0.content) })
    }

    /// PARAMETERs as an Ollama `options` object.
    var options: JSONObject {
        JSONObject(parameters.map { parameter in
            let value: JSONValue = switch parameter.value {
            case .integer(let number): .int(number)
            case .number(let number): .double(number)
            case .boolean(let flag): .bool(flag)
            case .strings(let strings): .array(strings.map(JSONValue.string))
            }
            return (parameter.name, value)
        })
    }

    /// A request's `options` over these parameters: keys the request sets replace the model's.
    func options(overriddenBy request: JSONValue?) -> JSONValue? {
        guard !parameters.isEmpty else { return request }
        var merged = options
        switch request {
        case nil, .null?: break
        case .object(let requested)?: for (key, value) in requested.pairs { merged[key] = value }
        case let other?: return other  // not an object: the options parser names the problem
        }
        return .object(merged)
    }
}

extension HearthServer {
    /// The customisation of the installed model `requested` names, if it was created from a
    /// Modelfile. An unknown name gives nil here; the generation that follows reports it.
    func customization(of requested: String) async -> ModelCustomization? {
        (try? await models.installedModel(requested))?.customization
    }

    /// The sampling a cloud API (OpenAI, Anthropic) starts from — temperature 1, top_p 1, and no
    /// top-k, min-p or repetition penalty — with a created model's PARAMETERs over it.
    static func cloudDefaults(under customization: ModelCustomization?) throws(APIError) -> OllamaOptions {
        var base = SamplingParameters()
        base.temperature = 1
        base.topP = 1
        base.topK = 0
        base.minP = 0
        base.repeatLastN = -1
        return try parseOllamaOptions(customization.map { .object($0.options) }, path: "the model's parameters.", base: base)
    }

    /// Checks a customisation before it is stored: every PARAMETER as a request's `options` are
    /// checked (names, types, ranges), the template (Jinja, compiling), the message roles.
    public static func validate(_ customization: ModelCustomization) throws {
        _ = try parseOllamaOptions(.object(customization.options), path: "parameters.")
        for (index, message) in customization.messages.enumerated() where !ModelMessage.roles.contains(message.role) {
            throw APIError.invalidField("messages[\(index)].role", "expected system, user or assistant, got '\(message.role)'")
        }
        try customization.chat.validate()
    }
}

/// A created model's PARAMETERs resolved over the built-in defaults, for the command line.
public struct ModelDefaults: Sendable {
    public var sampling = SamplingParameters()
    public var stop: [String] = []
    /// `num_predict`, when set.
    public var maxTokens: Int?
    /// `num_ctx`, when set.
    public var contextLength: Int?

    public init() {}
}

extension HearthServer {
    /// `customization`'s PARAMETERs over `SamplingParameters()`, checked as the server checks them.
    public static func defaults(of customization: ModelCustomization) throws -> ModelDefaults {
        let options = try parseOllamaOptions(.object(customization.options), path: "PARAMETER ")
        var defaults = ModelDefaults()
        defaults.sampling = options.generation.sampling
        defaults.stop = options.generation.stop
        defaults.maxTokens = options.maxTokens
        defaults.contextLength = options.contextLength
        return defaults
    }
}
