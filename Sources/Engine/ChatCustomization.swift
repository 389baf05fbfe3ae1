import Templates

/// What a created model (Ollama's Modelfile: `TEMPLATE`, `SYSTEM`, `MESSAGE`) changes about how
/// its conversations are written. The weights are the base model's.
public struct ChatCustomization: Sendable, Equatable {
    /// A Jinja chat template used instead of the file's `tokenizer.chat_template`.
    public var template: String?
    /// The system prompt of every conversation that brings none of its own.
    public var system: String?
    /// Turns put before every conversation's own (after its system prompt).
    public var messages: [ChatMessage]

    public init(template: String? = nil, system: String? = nil, messages: [ChatMessage] = []) {
        self.template = template
        self.system = system
        self.messages = messages
    }

    public var isEmpty: Bool { template == nil && system == nil && messages.isEmpty }

    /// Checks `template`: a Go template (what Ollama's own Modelfiles carry) is refused by name,
    /// since Hearth renders the Jinja templates GGUF files hold; Jinja must compile.
    public func validate() throws {
        guard let template else { return }
        if Self.looksLikeGoTemplate(template) {
            throw EngineError.invalidOption(
                "TEMPLATE", "this is a Go template (Ollama's format: {{ .Prompt }}, {{ range .Messages }}); Hearth renders "
                    + "Jinja chat templates as GGUF files carry them in tokenizer.chat_template ({% for message in messages %}…)")
        }
        do {
            _ = try ChatTemplate(source: template)
        } catch {
            throw EngineError.invalidOption("TEMPLATE", "the Jinja template does not compile: \(error)")
        }
    }

    /// Go's `{{ .Field }}`, `{{ range … }}`, `{{ end }}`, `{{ if .… }}` and `{{ template … }}`
    /// actions; Jinja never writes a leading dot or these bare keywords inside `{{ }}`.
    static func looksLikeGoTemplate(_ text: String) -> Bool {
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            var action = rest[open.upperBound...].drop { $0 == "-" || $0 == " " }
            if action.hasPrefix(".") || action.hasPrefix("$") { return true }
            for keyword in ["range ", "end ", "end}", "if .", "if $", "else if ", "template ", "block ", "with ", "define "] where action.hasPrefix(keyword) {
                return true
            }
            action = action.dropFirst()
            rest = action
        }
        return false
    }

    /// `messages` with the customisation's system prompt (unless they start with one) and turns.
    func applied(to messages: [TemplateValue]) -> [TemplateValue] {
        guard system != nil || !self.messages.isEmpty else { return messages }
        var result: [TemplateValue] = []
        var rest = messages[...]
        if let first = rest.first, case .object(let object) = first, object["role"] == .string("system") {
            result.append(first)
            rest = rest.dropFirst()
        } else if let system {
            result.append(ChatMessage.system(system).templateValue)
        }
        result += self.messages.map(\.templateValue)
        return result + rest
    }
}
