import JSON
import Foundation
import HTTPTypes

/// Every failure a route can report, turned into an HTTP status and a body in one place.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    /// The request field at fault, if one is.
    public let parameter: String?
    /// OpenAI's error `type`.
    public let type: String
    /// OpenAI's error `code` (`model_not_found`, `context_length_exceeded`, …): what clients such
    /// as LiteLLM and aider match on to tell one failure from another.
    public var code: String?
    /// Extra headers (Retry-After on 503).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, parameter: String? = nil, type: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.parameter = parameter
        self.type = type ?? Self.defaultType(for: status)
        self.code = code ?? Self.defaultCode(for: status)
    }

    public var description: String { "\(status.code) \(message)" }

    /// OpenAI's types: every client-side failure is an `invalid_request_error` (the status says
    /// which); a full server is `server_busy`, anything else `server_error`.
    static func defaultType(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 429, 503: "server_busy"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    static func defaultCode(for status: HTTPResponse.Status) -> String? {
        switch status.code {
        case 401: "invalid_api_key"
        case 403: "forbidden"
        case 413: "request_too_large"
        case 429, 503: "server_busy"
        default: nil
        }
    }

    /// A model the store does not hold.
    static func modelNotFound(_ message: String) -> APIError {
        APIError(.notFound, message, parameter: "model", code: "model_not_found")
    }

    /// A prompt longer than the context, in OpenAI's words, which LiteLLM and aider recognise
    /// (they then shorten the conversation themselves).
    static func contextLengthExceeded(context: Int, promptTokens: Int, parameter: String = "messages") -> APIError {
        APIError(.badRequest,
                 "This model's maximum context length is \(context) tokens. However, your messages resulted in \(promptTokens) tokens "
                 + "(with room for at least one token of answer). Please reduce the length of the messages.",
                 parameter: parameter, code: "context_length_exceeded")
    }

    static func badRequest(_ message: String, parameter: String? = nil) -> APIError {
        APIError(.badRequest, message, parameter: parameter)
    }

    static func invalidField(_ name: String, _ reason: String) -> APIError {
        APIError(.badRequest, "invalid '\(name)': \(reason)", parameter: name, code: "invalid_value")
    }

    static func unsupported(_ name: String, _ reason: String) -> APIError {
        APIError(.badRequest, "'\(name)' is not supported by Hearth yet: \(reason)", parameter: name, code: "unsupported_parameter")
    }

    /// OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
    var openAIBody: JSONValue {
        .object([
            "error": .object([
                "message": .string(message),
                "type": .string(type),
                "param": parameter.map(JSONValue.string) ?? .null,
                "code": code.map(JSONValue.string) ?? .null,
            ]),
        ])
    }

    /// Ollama's shape: `{"error": "message"}`.
    var ollamaBody: JSONValue { .object(["error": .string(message)]) }
}

/// Reads typed fields out of a request object, refusing wrong types and values out of range
/// with an error that names the field.
struct RequestFields {
    let object: JSONObject
    /// A prefix for names in errors (`options.` for Ollama's nested options).
    let path: String

    init(_ value: JSONValue, path: String = "") throws(APIError) {
        guard case .object(let object) = value else {
            throw APIError.badRequest(path.isEmpty ? "the request body must be a JSON object" : "'\(path.dropLast())' must be an object")
        }
        self.object = object
        self.path = path
    }

    private func name(_ key: String) -> String { path + key }

    /// A value that is present and not null.
    func value(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw .invalidField(name(key), "expected a string, got \(value.typeName)") }
        return string
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let string = try string(key) else { throw .invalidField(name(key), "is required") }
        return string
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw .invalidField(name(key), "expected true or false, got \(value.typeName)") }
        return bool
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        let integer: Int
        switch value {
        case .int(let int): integer = int
        case .double(let double) where double == double.rounded() && abs(double) < 9.0e15: integer = Int(double)
        case .double(let double): throw .invalidField(name(key), "expected a whole number in \(range.lowerBound)...\(range.upperBound), got \(double)")
        default: throw .invalidField(name(key), "expected a whole number, got \(value.typeName)")
        }
        guard range.contains(integer) else {
            throw .invalidField(name(key), "must be in \(range.lowerBound)...\(range.upperBound), got \(integer)")
        }
        return integer
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        let number: Double
        switch value {
        case .int(let int): number = Double(int)
        case .double(let double): number = double
        default: throw .invalidField(name(key), "expected a number, got \(value.typeName)")
        }
        guard number.isFinite, range.contains(number) else {
            throw .invalidField(name(key), "must be in \(range.lowerBound)...\(range.upperBound), got \(number)")
        }
        return number
    }

    /// `stop`: a string or a list of strings (at most `limit`).
    /// Stop strings are matched against every token's text; no real stop is near this long.
    static let stopBytesLimit = 16 * 1024

    func stopStrings(_ key: String, limit: Int = 16) throws(APIError) -> [String] {
        guard let value = value(key) else { return [] }
        switch value {
        case .string(let string):
            guard string.utf8.count <= Self.stopBytesLimit else {
                throw .invalidField(name(key), "stop strings are at most \(Self.stopBytesLimit) bytes in all, got \(string.utf8.count)")
            }
            return string.isEmpty ? [] : [string]
        case .array(let elements):
            guard elements.count <= limit else { throw .invalidField(name(key), "at most \(limit) stop strings, got \(elements.count)") }
            var strings: [String] = []
            for element in elements {
                guard case .string(let string) = element else { throw .invalidField(name(key), "expected strings, got \(element.typeName)") }
                if !string.isEmpty { strings.append(string) }
            }
            let bytes = strings.reduce(0) { $0 + $1.utf8.count }
            guard bytes <= Self.stopBytesLimit else {
                throw .invalidField(name(key), "stop strings are at most \(Self.stopBytesLimit) bytes in all, got \(bytes)")
            }
            return strings
        default:
            throw .invalidField(name(key), "expected a string or a list of strings, got \(value.typeName)")
        }
    }

    /// Fails when a key outside `known` carries a value: a field Hearth would silently ignore is
    /// an error instead. Empty and default values (null, "", false, [], {}, "none") mean
    /// "absent", as the services Hearth imitates treat them and as clients send them for "not
    /// set" (Ollama's Go client sends `"suffix": ""`, `"template": ""`; scripts send
    /// `"think": false`). `ignored` fields are accepted whatever their value: they never change
    /// the output (hardware and runner settings, bookkeeping).
    func rejectUnknown(known: Set<String>, unsupported: [String: String] = [:], ignored: Set<String> = []) throws(APIError) {
        for key in object.keys where !known.contains(key) && !ignored.contains(key) {
            guard let value = object[key], !Self.meansAbsent(value) else { continue }
            if let reason = unsupported[key] { throw .unsupported(name(key), reason) }
            throw APIError(.badRequest, "unknown field '\(name(key))'", parameter: name(key), code: "unknown_parameter")
        }
    }

    static func meansAbsent(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool(false), .string(""), .string("none"): return true
        case .array(let items): return items.isEmpty
        case .object(let object): return object.pairs.isEmpty
        default: return false
        }
    }
}
