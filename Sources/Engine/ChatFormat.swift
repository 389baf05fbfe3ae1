import Foundation
import GGUF
import Templates
import Tokenizers

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user`, `assistant` or `tool`; templates decide what they accept.
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }

    var templateValue: TemplateValue {
        .object(TemplateObject([("role", .string(role)), ("content", .string(content))]))
    }
}

/// How a model wants conversations written: its chat template (from `tokenizer.chat_template`,
/// or a built-in one chosen by architecture when the file has none) and the BOS/EOS text the
/// template refers to.
///
/// ```swift
/// let prompt = try loaded.chatFormat().tokens(for: [.user("Hi")], addGenerationPrompt: true)
/// ```
public struct ChatFormat: Sendable {
    public let template: ChatTemplate
    /// Where the template came from: `tokenizer.chat_template` or `built-in (ARCH)`.
    public let origin: String
    let tokenizer: Tokenizer
    let bosText: String
    let eosText: String
    /// A created model's system prompt and leading turns, added to every conversation rendered.
    public let customization: ChatCustomization

    init(file: GGUFFile, tokenizer: Tokenizer, customization: ChatCustomization = ChatCustomization()) throws {
        self.customization = customization
        var key = "tokenizer.chat_template"
        let source: String
        if let template = customization.template {
            source = template
            key = "the Modelfile's TEMPLATE"
            origin = "Modelfile TEMPLATE"
        } else if let value = file[key] {
            guard let text = value.asString else { throw EngineError.invalidKey(key, "expected a string") }
            source = text
            origin = key
        } else {
            let architecture = file["general.architecture"]?.asString ?? ""
            guard let builtIn = BuiltinChatTemplates.source(forArchitecture: architecture) else {
                throw EngineError.missingKey(key)
            }
            source = builtIn
            origin = "built-in (\(architecture))"
        }
        do {
            template = try ChatTemplate(source: source)
        } catch {
            throw EngineError.invalidKey(key, "\(error)")
        }
        self.tokenizer = tokenizer
        bosText = tokenizer.bosTokenID.map { String(decoding: tokenizer.piece($0, renderSpecial: true), as: UTF8.self) } ?? ""
        eosText = tokenizer.eosTokenID.map { String(decoding: tokenizer.piece($0, renderSpecial: true), as: UTF8.self) } ?? ""
    }

    /// The conversation as the model's template writes it.
    ///
    /// `extra` adds template variables (`tools`, `documents`, custom keyword arguments); it
    /// cannot replace `messages`, `add_generation_prompt`, `bos_token` or `eos_token`.
    public func render(
        _ messages: [TemplateValue], addGenerationPrompt: Bool, extra: [String: TemplateValue] = [:]
    ) throws -> String {
        var variables = extra
        // As transformers does: templates test both `tools is defined` and `tools is not none`.
        if variables["tools"] == nil { variables["tools"] = TemplateValue.none }
        if variables["documents"] == nil { variables["documents"] = TemplateValue.none }
        variables["messages"] = .array(customization.applied(to: messages))
        variables["add_generation_prompt"] = .bool(addGenerationPrompt)
        variables["bos_token"] = .string(bosText)
        variables["eos_token"] = .string(eosText)
        return try template.render(variables)
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try render(messages.map(\.templateValue), addGenerationPrompt: addGenerationPrompt)
    }

    /// Tokens of a rendered conversation: special-token text becomes special tokens, and BOS
    /// is added the way the vocabulary asks — but only once, since many templates write
    /// `{{ bos_token }}` themselves.
    public func tokens(forRendered text: String) -> [Int32] {
        var tokens = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        if tokens.count >= 2, let bos = tokenizer.bosTokenID, tokenizer.addsBOS, tokens[0] == bos, tokens[1] == bos {
            tokens.removeFirst()
        }
        return tokens
    }

    public func tokens(for messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Int32] {
        tokens(forRendered: try render(messages, addGenerationPrompt: addGenerationPrompt))
    }
}
