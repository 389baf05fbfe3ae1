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
    /// Extra headers (Retry-After on 503).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, parameter: String? = nil, type: String? = nil) {
        self.status = status
        self.message = message
        self.parameter = parameter
        self.type = type ?? Self.defaultType(for: status)
    }

    public var description: String { "\(status.code) \(message)" }

    static func defaultType(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429, 503: "server_busy"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    static func badRequest(_ message: String, parameter: String? = nil) -> APIError {
        APIError(.badRequest, message, parameter: parameter)
    }

    static func invalidField(_ name: String, _ reason: String) -> APIError {
        APIError(.badRequest, "invalid '\(name)': \(reason)", parameter: name)
    }

    static func unsupported(_ name: String, _ reason: String) -> APIError {
        APIError(.badRequest, "'\(name)' is not supported by Hearth yet: \(reason)", parameter: name)
    }

    /// OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
    var openAIBody: JSONValue {
        .object([
            "error": .object([
                "message": .string(message),
                "type": .string(type),
                "param": parameter.map(JSONValue.string) ?? .null,
                "code": .null,
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
    func stopStrings(_ key: String, limit: Int = 16) throws(APIError) -> [String] {
        guard let value = value(key) else { return [] }
        switch value {
        case .string(let string): return string.isEmpty ? [] : [string]
        case .array(let elements):
            guard elements.count <= limit else { throw .invalidField(name(key), "at most \(limit) stop strings, got \(elements.count)") }
            var strings: [String] = []
            for element in elements {
                guard case .string(let string) = element else { throw .invalidField(name(key), "expected strings, got \(element.typeName)") }
                if !string.isEmpty { strings.append(string) }
            }
            return strings
        default:
            throw .invalidField(name(key), "expected a string or a list of strings, got \(value.typeName)")
        }
    }

    /// Fails when any key outside `known` is present and not null (or an empty list, which
    /// clients send for "none", as Ollama's does for `tools`): a field Hearth would silently
    /// ignore is an error instead.
    func rejectUnknown(known: Set<String>, unsupported: [String: String] = [:]) throws(APIError) {
        for key in object.keys where object[key] != .null && object[key] != .array([]) {
            if let reason = unsupported[key] { throw .unsupported(name(key), reason) }
            if !known.contains(key) { throw .invalidField(name(key), "unknown field") }
        }
    }
}
