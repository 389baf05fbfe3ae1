import Engine
import Foundation
import Hummingbird
import JSON
import Store

/// `POST /api/create`: a model made from an installed one (Ollama's create), in Ollama's current
/// form (`from`, `system`, `template`, `parameters`, `messages`, `license`) or its older one (a
/// `modelfile` text). The new model links the same weights; nothing is copied.
extension HearthServer {
    static let createFields: Set<String> = [
        "model", "name", "from", "modelfile", "system", "template", "parameters", "messages", "license", "stream",
    ]

    func ollamaCreate(_ body: JSONValue) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: Self.createFields, unsupported: [
            "files": "uploading model files is not supported; pull the model or import the file on the server (`hearth pull PATH`), then create FROM its name",
            "adapters": "uploading LoRA adapters is not supported; create the model on the server's machine with `hearth create` and an ADAPTER line",
            "quantize": "Hearth does not quantise models; pull the quantisation you want",
            "path": "a Modelfile path on the server is not read; send its text as 'modelfile', or 'from' and the other fields",
        ])
        var name = try (fields.string("model") ?? fields.requiredString("name")).trimmingCharacters(in: .whitespaces)
        if name.hasSuffix(":latest") { name.removeLast(":latest".count) }
        guard ModelName.isValid(name) else { throw APIError.invalidField("model", "'\(name)' is not a valid model name") }
        let stream = try fields.bool("stream") ?? true
        let (base, customization) = try Self.creation(fields)
        let source = try await models.installedModel(base)
        if configuration.servedFiles.contains(where: { $0.name == source.name }) {
            throw APIError.invalidField("from", "'\(source.name)' is served from a file outside the store (serve --model PATH); import it with `hearth pull PATH` first")
        }
        let store = self.store
        let target = name
        let created = try await offload { () throws -> InstalledModel in
            do {
                try Self.validate(customization)
            } catch let error as EngineError {
                throw APIError.invalidField("template", "\(error)")
            }
            do {
                return try store.create(target, from: source.name, customization: customization)
            } catch {
                throw APIError(.internalServerError, "cannot create '\(target)': \(error)")
            }
        }
        logger.info("created \(created.name) from \(source.name)")
        let statuses: [JSONValue] = [
            .object(["status": .string("using existing layer sha256:\(created.sha256)")]),
            .object(["status": "writing manifest"]),
            .object(["status": "success"]),
        ]
        guard stream else { return Reply.json(.object(["status": "success"])) }
        return Reply.stream(contentType: "application/x-ndjson") { send in
            for status in statuses { try await send(status.serialized + "\n") }
        }
    }

    /// The base model's name and the customisation a create request asks for.
    static func creation(_ fields: RequestFields) throws(APIError) -> (base: String, ModelCustomization) {
        let structured = ["from", "system", "template", "parameters", "messages", "license"].filter { fields.value($0) != nil }
        if let text = try fields.string("modelfile") {
            guard structured.isEmpty else {
                throw APIError.invalidField("modelfile", "send either a Modelfile or the fields \(structured.joined(separator: ", ")), not both")
            }
            let modelfile: Modelfile
            do {
                modelfile = try Modelfile.parse(text)
            } catch {
                throw APIError.invalidField("modelfile", "\(error)")
            }
            guard modelfile.adapters.isEmpty else {
                throw APIError.unsupported("modelfile", "ADAPTER names a file the server does not read over HTTP; create the model on the server's machine with `hearth create` (LoRA adapters work there)")
            }
            let from = modelfile.from
            guard ModelName.isValid(from), !from.contains("/") else {
                throw APIError.invalidField("modelfile", "FROM must name an installed model; a file ('\(from)') is imported on the server with `hearth create` or `hearth pull PATH`")
            }
            return (from, modelfile.customization)
        }
        let base = try fields.requiredString("from")
        var customization = ModelCustomization(base: base)
        customization.system = try fields.string("system")
        customization.template = try fields.string("template")
        switch fields.value("license") {
        case nil, .null?: break
        case .string(let text)?: customization.license = [text]
        case .array(let items)?:
            customization.license = try items.enumerated().map { index, item throws(APIError) in
                guard case .string(let text) = item else { throw APIError.invalidField("license[\(index)]", "expected a string, got \(item.typeName)") }
                return text
            }
        case let other?: throw APIError.invalidField("license", "expected a string or a list of strings, got \(other.typeName)")
        }
        if let value = fields.value("parameters") {
            guard case .object(let parameters) = value else {
                throw APIError.invalidField("parameters", "expected an object of option names and values, got \(value.typeName)")
            }
            for (key, value) in parameters.pairs {
                customization.setParameter(key, try parameterValue(value, name: key))
            }
        }
        if let value = fields.value("messages") {
            guard case .array(let list) = value else { throw APIError.invalidField("messages", "expected a list of messages, got \(value.typeName)") }
            for (index, message) in list.enumerated() {
                let messageFields = try RequestFields(message, path: "messages[\(index)].")
                try messageFields.rejectUnknown(known: ["role", "content"])
                let role = try messageFields.requiredString("role")
                guard ModelMessage.roles.contains(role) else {
                    throw APIError.invalidField("messages[\(index)].role", "expected system, user or assistant, got '\(role)'")
                }
                customization.messages.append(ModelMessage(role: role, content: try messageFields.string("content") ?? ""))
            }
        }
        return (base, customization)
    }

    /// A `parameters` value as the type its option takes.
    static func parameterValue(_ value: JSONValue, name: String) throws(APIError) -> ModelParameterValue {
        let field = "parameters.\(name)"
        guard let type = ModelParameter.types[name] else {
            throw APIError.invalidField(field, "unknown parameter (known: \(ModelParameter.types.keys.sorted().joined(separator: ", ")))")
        }
        switch (type, value) {
        case (.integer, .int(let number)): return .integer(number)
        case (.integer, .double(let number)) where number == number.rounded() && abs(number) < 1e15: return .integer(Int(number))
        case (.number, .int(let number)): return .number(Double(number))
        case (.number, .double(let number)): return .number(number)
        case (.boolean, .bool(let flag)): return .boolean(flag)
        case (.strings, .string(let text)): return .strings([text])
        case (.strings, .array(let items)):
            return .strings(try items.map { item throws(APIError) in
                guard case .string(let text) = item else { throw APIError.invalidField(field, "expected strings, got \(item.typeName)") }
                return text
            })
        default:
            let expected = switch type {
            case .integer: "a whole number"
            case .number: "a number"
            case .boolean: "true or false"
            case .strings: "a string or a list of strings"
            }
            throw APIError.invalidField(field, "expected \(expected), got \(value.typeName)")
        }
    }
}
