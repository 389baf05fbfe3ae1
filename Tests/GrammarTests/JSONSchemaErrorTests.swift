import Grammar
import JSON
import Testing

@Suite struct JSONSchemaErrorTests {
    static func failure(_ schema: JSONValue) -> GrammarError? {
        do {
            _ = try Grammar.jsonSchema(schema)
            return nil
        } catch {
            return error
        }
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        let schema: JSONValue
        let path: String
        var description: String { path }
    }

    static func errorCase(_ schema: JSONValue, _ path: String) -> ErrorCase { ErrorCase(schema: schema, path: path) }

    static let errorCases: [ErrorCase] = [
        errorCase(["type": "array", "uniqueItems": true], "$.uniqueItems"),
        errorCase(["not": ["type": "string"]], "$.not"),
        errorCase(["if": ["type": "string"], "then": true], "$.if"),
        errorCase(["type": "array", "contains": ["type": "integer"]], "$.contains"),
        errorCase(["type": "object", "patternProperties": ["^a": true]], "$.patternProperties"),
        errorCase(["type": "object", "propertyNames": ["maxLength": 3]], "$.propertyNames"),
        errorCase(["type": "object", "dependentRequired": ["a": ["b"]]], "$.dependentRequired"),
        errorCase(["type": "object", "maxProperties": 2], "$.maxProperties"),
        errorCase(["type": "object", "minProperties": 2], "$.minProperties"),
        errorCase(["type": "string", "format": "credit-card"], "$.format"),
        errorCase(["$ref": "https://example.com/schema.json"], "$.$ref"),
        errorCase(["$ref": "#/$defs/missing"], "$.$ref"),
        errorCase(["type": "object", "properties": ["age": ["type": "integer", "multipleOf": 0.5]]], "$.properties.age.multipleOf"),
        errorCase(["type": "object", "properties": ["age": ["type": "integer", "multipleOf": 3, "minimum": 10, "maximum": 20_000]]], "$.properties.age.multipleOf"),
        errorCase(["type": "object", "properties": ["age": ["type": "integer", "multipleOf": 3, "minimum": 10, "maximum": 11]]], "$.properties.age.multipleOf"),
        errorCase(["type": "object", "properties": ["age": ["type": "integer", "multipleOf": 3, "minimum": 100]]], "$.properties.age.multipleOf"),
        errorCase(["type": "number", "minimum": 0.5], "$.minimum"),
        errorCase(["type": "integer", "minimum": 10, "maximum": 5], "$.minimum"),
        errorCase(["type": "string", "pattern": "(a)\\1"], "$.pattern"),
        errorCase(["type": "string", "pattern": "a", "maxLength": 3], "$.maxLength"),
        errorCase(["type": "string", "minLength": 5, "maxLength": 3], "$.minLength"),
        errorCase(["type": "array", "items": ["type": "string", "unknownKeyword": 1]], "$.items.unknownKeyword"),
        errorCase(["anyOf": [["type": "string"], ["type": "strin"]]], "$.anyOf[1].type"),
        errorCase(["type": "object", "properties": ["a": false], "required": ["a"]], "$.properties.a"),
        errorCase(false, "$"),
        errorCase("string", "$"),
        errorCase(["$ref": "#"], "$.$ref"),
        errorCase(["$defs": ["a": ["$ref": "#/$defs/b"], "b": ["$ref": "#/$defs/a"]], "$ref": "#/$defs/a"], "$.$ref"),
        errorCase(["allOf": [["type": "string"], ["type": "integer"]]], "$.allOf"),
        errorCase(["allOf": [["minLength": 1, "pattern": "a"], ["pattern": "b"]]], "$.allOf"),
        errorCase(["type": "integer", "minimum": 1e30], "$.minimum"),
        errorCase(["type": "array", "maxItems": 1_000_000], "$.maxItems"),
        errorCase(["enum": []], "$.enum"),
        errorCase(["type": "object", "unevaluatedProperties": false], "$.unevaluatedProperties"),
    ]

    @Test(arguments: errorCases)
    func unsupportedOrInvalidKeywordsNameTheirPath(_ testCase: ErrorCase) {
        let schema = testCase.schema, path = testCase.path
        let error = Self.failure(schema)
        #expect(error != nil, "accepted \(schema.serialized)")
        #expect(error?.location == path, "\(String(describing: error)) for \(schema.serialized)")
        #expect(error?.reason.isEmpty == false)
    }

    @Test func recursionWithoutBaseCaseIsRefused() {
        // Always requiring another level: no finite instance exists.
        let schema: JSONValue = ["type": "object", "properties": ["next": ["$ref": "#"]], "required": ["next"]]
        let error = Self.failure(schema)
        #expect(error?.location == "$")
        #expect(error?.reason.contains("never finish") == true, "\(String(describing: error))")
        let loop: JSONValue = ["anyOf": [["$ref": "#"]]]
        #expect(Self.failure(loop) != nil)
    }

    @Test func deepSchemaIsRefused() {
        var schema: JSONValue = ["type": "string"]
        for _ in 0..<100 { schema = ["type": "array", "items": schema] }
        let error = Self.failure(schema)
        #expect(error?.reason.contains("deeper") == true)
    }

    @Test func giantEnumIsRefused() {
        let schema: JSONValue = ["enum": .array((0..<5_000).map { .int($0) })]
        #expect(Self.failure(schema)?.location == "$.enum")
    }

    @Test func annotationsAreIgnored() throws {
        let schema: JSONValue = [
            "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "$comment": "c", "title": "t", "description": "d",
            "type": "object", "deprecated": false, "readOnly": true, "writeOnly": false, "examples": [], "default": [:],
            "discriminator": ["propertyName": "k"], "contentMediaType": "text/plain",
            "properties": ["k": ["type": "string", "description": "the key"]], "required": ["k"],
        ]
        let grammar = try Grammar.jsonSchema(schema)
        #expect(matches(grammar, #"{"k": "v"}"#))
    }

    @Test func uniqueItemsFalseAndSingleItemArraysAreFine() throws {
        _ = try Grammar.jsonSchema(["type": "array", "uniqueItems": false])
        _ = try Grammar.jsonSchema(["type": "array", "uniqueItems": true, "maxItems": 1])
    }
}
