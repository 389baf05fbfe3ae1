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
        "files", "adapters", "draft",
    ]

    func ollamaCreate(_ body: JSONValue) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: Self.createFields, unsupported: [
            "quantize": "Hearth does not quantise models; pull the quantisation you want",
            "path": "a Modelfile path on the server is not read; send its text as 'modelfile', or 'from' and the other fields",
        ])
        var name = try (fields.string("model") ?? fields.requiredString("name")).trimmingCharacters(in: .whitespaces)
        if name.hasSuffix(":latest") { name.removeLast(":latest".count) }
        guard ModelName.isValid(name) else { throw APIError.invalidField("model", "'\(name)' is not a valid model name") }
        let stream = try fields.bool("stream") ?? true
        let files = try Self.digests(fields, "files")
        let adapterDigests = try Self.digests(fields, "adapters")
        // The weights: an installed model (`from`), or one uploaded GGUF (`files`).
        let weights: CreationWeights
        var customization: ModelCustomization
        if let file = files.first {
            guard files.count == 1, file.name.lowercased().hasSuffix(".gguf") else {
                throw APIError.unsupported("files", "Hearth imports one GGUF file per model (got \(files.map { "'\($0.name)'" }.joined(separator: ", "))); safetensors are not converted — convert to GGUF first")
            }
            guard fields.value("from") == nil, fields.value("modelfile") == nil else {
                throw APIError.invalidField("files", "send either 'files' (uploaded weights) or 'from'/'modelfile' (an installed model), not both")
            }
            customization = try Self.customization(fields, base: file.name)
            weights = .uploaded(sha256: file.sha256)
        } else {
            let (base, requested) = try Self.creation(fields)
            let source = try await models.installedModel(base)
            if configuration.servedFiles.contains(where: { $0.name == source.name }) {
                throw APIError.invalidField("from", "'\(source.name)' is served from a file outside the store (serve --model PATH); import it with `hearth pull PATH` first")
            }
            customization = requested
            weights = .installed(source)
        }
        let store = self.store
        let target = name
        let chosenCustomization = customization
        let created = try await offload { () throws -> InstalledModel in
            do {
                try Self.validate(chosenCustomization)
            } catch let error as EngineError {
                throw APIError.invalidField("template", "\(error)")
            }
            var customization = chosenCustomization
            customization.adapters = try Self.checkWeights(weights, adapters: adapterDigests, store: store)
            switch weights {
            case .installed(let source): try Self.checkDraft(customization.draft, basePath: source.path, store: store)
            case .uploaded(let sha256):
                if let file = try? store.file(withSHA256: sha256) { try Self.checkDraft(customization.draft, basePath: file.path, store: store) }
            }
            do {
                switch weights {
                case .installed(let source):
                    return try store.create(target, from: source.name, customization: customization)
                case .uploaded(let sha256):
                    return try store.installModel(sha256: sha256, name: target, customization: customization)
                }
            } catch {
                throw APIError(.internalServerError, "cannot create '\(target)': \(error)")
            }
        }
        logger.info("created \(created.name) from \(created.source)")
        var statuses: [JSONValue] = []
        if case .uploaded = weights { statuses.append(.object(["status": "parsing GGUF"])) }
        statuses.append(.object(["status": .string("using existing layer sha256:\(created.sha256)")]))
        for adapter in created.customization?.adapters ?? [] {
            statuses.append(.object(["status": .string("using existing layer sha256:\(adapter.sha256)")]))
        }
        statuses += [.object(["status": "writing manifest"]), .object(["status": "success"])]
        guard stream else { return Reply.json(.object(["status": "success"])) }
        let lines = statuses
        return Reply.stream(contentType: "application/x-ndjson") { send in
            for status in lines { try await send(status.serialized + "\n") }
        }
    }

    enum CreationWeights: Sendable {
        case installed(InstalledModel)
        case uploaded(sha256: String)
    }

    /// `files` / `adapters`: file names → Ollama digests (`sha256:HEX`) of uploaded blobs.
    static func digests(_ fields: RequestFields, _ key: String) throws(APIError) -> [(name: String, sha256: String)] {
        switch fields.value(key) {
        case nil, .null?: return []
        case .object(let map)?:
            return try map.pairs.map { name, value throws(APIError) in
                guard case .string(let digest) = value, let sha256 = ModelStore.sha256(ofDigest: digest) else {
                    throw APIError.invalidField("\(key).\(name)", "expected a digest 'sha256:' and 64 hex digits (from POST /api/blobs), got \(value.serialized)")
                }
                return (name, sha256)
            }
        case let other?:
            throw APIError.invalidField(key, "expected an object of file names and digests, got \(other.typeName)")
        }
    }

    /// Checks that the weights load and each uploaded adapter fits them (on a worker thread),
    /// then keeps the adapters in the store.
    static func checkWeights(_ weights: CreationWeights, adapters: [(name: String, sha256: String)],
                             store: ModelStore) throws -> [ModelAdapter] {
        func located(_ sha256: String, field: String) throws -> URL {
            guard let url = try? store.file(withSHA256: sha256) else {
                throw APIError.invalidField(field, "no blob sha256:\(sha256) on the server; upload it first (POST /api/blobs/sha256:\(sha256))")
            }
            return url
        }
        let basePath: String
        switch weights {
        case .installed(let source): basePath = source.path
        case .uploaded(let sha256): basePath = try located(sha256, field: "files").path
        }
        let loraAdapters = try adapters.map { adapter in
            do {
                return try LoRAAdapter(path: try located(adapter.sha256, field: "adapters.\(adapter.name)").path)
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.invalidField("adapters.\(adapter.name)", "not a LoRA adapter: \(error)")
            }
        }
        if case .uploaded = weights {
            do {
                _ = try LoadedModel(path: basePath, threads: 1)
            } catch {
                throw APIError.invalidField("files", "the uploaded file is not a model Hearth can run: \(error)")
            }
        }
        if !loraAdapters.isEmpty {
            do {
                _ = try LoadedModel(path: basePath, threads: 1, adapters: loraAdapters)
            } catch {
                throw APIError.invalidField("adapters", "the adapter does not fit the model: \(error)")
            }
        }
        return try adapters.map { adapter in
            do {
                return try store.importAdapter(sha256: adapter.sha256)
            } catch {
                throw APIError(.internalServerError, "cannot keep adapter '\(adapter.name)': \(error)")
            }
        }
    }

    /// The base model's name and the customisation a create request asks for.
    static func creation(_ fields: RequestFields) throws(APIError) -> (base: String, ModelCustomization) {
        let structured = ["from", "system", "template", "parameters", "messages", "license", "draft"].filter { fields.value($0) != nil }
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
                throw APIError.unsupported("modelfile", "ADAPTER names a file the server does not read; upload the adapter (POST /api/blobs/DIGEST) and send 'from' with 'adapters', or run `hearth create` on the server's machine")
            }
            let from = modelfile.from
            guard ModelName.isValid(from), !from.contains("/") else {
                throw APIError.invalidField("modelfile", "FROM must name an installed model; a file ('\(from)') is imported on the server with `hearth create` or `hearth pull PATH`")
            }
            return (from, modelfile.customization)
        }
        let base = try fields.requiredString("from")
        return (base, try customization(fields, base: base))
    }

    /// The customisation a create request's fields ask for (`system`, `template`, `license`,
    /// `parameters`, `messages`) over `base`.
    static func customization(_ fields: RequestFields, base: String) throws(APIError) -> ModelCustomization {
        var customization = ModelCustomization(base: base)
        customization.system = try fields.string("system")
        customization.template = try fields.string("template")
        customization.draft = try fields.string("draft").flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
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
        return customization
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
