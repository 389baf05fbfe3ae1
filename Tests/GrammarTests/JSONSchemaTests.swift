import Grammar
import JSON
import Testing

/// A schema with instances that must be accepted byte by byte and ones that must be refused.
struct SchemaCase: CustomStringConvertible, Sendable {
    let label: String
    let schema: JSONValue
    let valid: [String]
    let invalid: [String]
    var description: String { label }
}

@Suite struct JSONSchemaTests {
    static let cases: [SchemaCase] = [
        SchemaCase(label: "string", schema: ["type": "string"],
                   valid: [#""""#, #""hello""#, #""esc \" \\ \n \u00e9 \ud83d\ude00""#, "\"中文 😀\""],
                   invalid: ["hello", #""a"#, "\"a\u{01}\"", #""\ud800""#, "1"]),
        SchemaCase(label: "integer", schema: ["type": "integer"], valid: ["0", "-12", "123456"], invalid: ["01", "1.5", "-", "-0x"]),
        SchemaCase(label: "number", schema: ["type": "number"], valid: ["0", "-1.5", "3e10", "2.5E-3", "10"], invalid: ["1.", ".5", "1e", "--1", "1e999"]),
        SchemaCase(label: "boolean and null", schema: ["type": ["boolean", "null"]], valid: ["true", "false", "null"], invalid: ["True", "0", "\"true\""]),
        SchemaCase(label: "integer range", schema: ["type": "integer", "minimum": -15, "maximum": 1234],
                   valid: ["-15", "-9", "0", "7", "99", "1000", "1234"], invalid: ["-16", "1235", "2000", "-100", "12345"]),
        SchemaCase(label: "exclusive integer range", schema: ["type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10],
                   valid: ["1", "9"], invalid: ["0", "10", "-1"]),
        SchemaCase(label: "fractional integer bounds", schema: ["type": "integer", "minimum": 1.5, "maximum": 3.5], valid: ["2", "3"], invalid: ["1", "4"]),
        SchemaCase(label: "number range", schema: ["type": "number", "minimum": 0, "maximum": 1],
                   valid: ["0", "0.5", "1", "1.0", "0.999"], invalid: ["1.5", "-0.1", "2", "1.01"]),
        SchemaCase(label: "exclusive number range", schema: ["type": "number", "exclusiveMinimum": -2, "exclusiveMaximum": 3],
                   valid: ["-1.99", "-1", "0", "2.5", "-2.5e0".isEmpty ? "" : "2.9"], invalid: ["-2", "3", "3.0", "-2.0", "4"]),
        SchemaCase(label: "multipleOf", schema: ["type": "integer", "multipleOf": 7], valid: ["0", "7", "-14", "700", "343"], invalid: ["1", "15", "-8", "701"]),
        SchemaCase(label: "multipleOf positive", schema: ["type": "integer", "multipleOf": 15, "exclusiveMinimum": 0], valid: ["15", "30", "900"], invalid: ["0", "-15", "20"]),
        SchemaCase(label: "multipleOf negative", schema: ["type": "integer", "multipleOf": 4, "maximum": -1], valid: ["-4", "-400"], invalid: ["0", "4", "-6"]),
        SchemaCase(label: "multipleOf between bounds", schema: ["type": "integer", "multipleOf": 3, "minimum": -7, "maximum": 20], valid: ["-6", "0", "3", "18"], invalid: ["-9", "21", "4", "20"]),
        SchemaCase(label: "multipleOf non-negative", schema: ["type": "integer", "multipleOf": 5, "minimum": 0], valid: ["0", "5", "100"], invalid: ["-5", "3"]),
        SchemaCase(label: "string lengths", schema: ["type": "string", "minLength": 2, "maxLength": 4],
                   valid: [#""ab""#, #""abcd""#, #""é中""#, #""\n\t""#], invalid: [#""a""#, #""abcde""#]),
        SchemaCase(label: "enum", schema: ["enum": ["red", "green", 3, nil, ["a": 1]]],
                   valid: [#""red""#, #""green""#, "3", "null", #"{"a":1}"#], invalid: [#""blue""#, "4", #"{"a":2}"#]),
        SchemaCase(label: "const", schema: ["const": "x\"y"], valid: [#""x\"y""#], invalid: [#""xy""#]),
        SchemaCase(label: "enum with type filter", schema: ["type": "string", "enum": ["a", 1]], valid: [#""a""#], invalid: ["1"]),
        SchemaCase(label: "object required and optional", schema: [
            "type": "object",
            "properties": ["a": ["type": "integer"], "b": ["type": "string"], "c": ["type": "boolean"]],
            "required": ["b"],
        ], valid: [#"{"b": "x"}"#, #"{"a": 1, "b": "x"}"#, #"{"b": "x", "c": true}"#, #"{ "a":1,"b":"x","c":false }"#],
           invalid: ["{}", #"{"a": 1}"#, #"{"b": "x", "a": 1}"#, #"{"b": "x", "d": 1}"#, #"{"b": "x",}"#]),
        SchemaCase(label: "all optional", schema: ["type": "object", "properties": ["a": ["type": "integer"], "b": ["type": "integer"]]],
                   valid: ["{}", #"{"a": 1}"#, #"{"b": 2}"#, #"{"a": 1, "b": 2}"#], invalid: [#"{"b": 2, "a": 1}"#, #"{,"a":1}"#]),
        SchemaCase(label: "additionalProperties schema", schema: [
            "type": "object", "properties": ["id": ["type": "integer"]], "required": ["id"], "additionalProperties": ["type": "string"],
        ], valid: [#"{"id": 1}"#, #"{"id": 1, "x": "y", "ida": "z"}"#], invalid: [#"{"id": 1, "x": 2}"#, #"{"id": 1, "id": "y"}"#]),
        SchemaCase(label: "any object", schema: ["type": "object"], valid: ["{}", #"{"a": [1, {"b": null}], "c": "d"}"#], invalid: ["[]", "{", #"{"a"}"#]),
        SchemaCase(label: "map of integers", schema: ["type": "object", "additionalProperties": ["type": "integer"]],
                   valid: ["{}", #"{"x": 1, "y": -2}"#], invalid: [#"{"x": "1"}"#]),
        SchemaCase(label: "bounded array", schema: ["type": "array", "items": ["type": "integer"], "minItems": 1, "maxItems": 3],
                   valid: ["[1]", "[1, 2, 3]", "[ 1,2 ]"], invalid: ["[]", "[1, 2, 3, 4]", "[\"a\"]", "[1,]"]),
        SchemaCase(label: "tuple", schema: ["type": "array", "prefixItems": [["type": "string"], ["type": "integer"]], "items": false, "minItems": 1],
                   valid: [#"["a"]"#, #"["a", 1]"#], invalid: ["[]", #"["a", 1, 2]"#, "[1]"]),
        SchemaCase(label: "tuple with rest", schema: ["type": "array", "prefixItems": [["const": 0]], "items": ["type": "boolean"], "maxItems": 3],
                   valid: ["[]", "[0]", "[0, true, false]"], invalid: ["[0, true, false, true]", "[true]"]),
        SchemaCase(label: "nullable (OpenAPI)", schema: ["type": "string", "nullable": true], valid: [#""a""#, "null"], invalid: ["1"]),
        SchemaCase(label: "type array", schema: ["type": ["string", "integer"], "maxLength": 1, "maximum": 5],
                   valid: [#""a""#, "5", "-3"], invalid: [#""ab""#, "6", "true"]),
        SchemaCase(label: "anyOf", schema: ["anyOf": [["type": "integer"], ["type": "object", "properties": ["k": ["const": 1]], "required": ["k"]]]],
                   valid: ["12", #"{"k": 1}"#], invalid: [#"{"k": 2}"#, #""s""#]),
        SchemaCase(label: "oneOf with siblings", schema: ["type": "object", "properties": ["kind": ["type": "string"]], "required": ["kind"],
                                                          "oneOf": [["properties": ["kind": ["const": "a"]]], ["properties": ["kind": ["const": "b"]]]]],
                   valid: [#"{"kind": "a"}"#, #"{"kind": "b"}"#], invalid: [#"{"kind": "c"}"#]),
        SchemaCase(label: "allOf merge", schema: ["allOf": [
            ["type": "object", "properties": ["a": ["type": "integer"]], "required": ["a"]],
            ["properties": ["b": ["type": "string"]], "required": ["b"]],
        ]], valid: [#"{"a": 1, "b": "x"}"#], invalid: [#"{"a": 1}"#, #"{"b": "x"}"#]),
        SchemaCase(label: "recursive $ref", schema: [
            "$defs": ["node": ["type": "object", "properties": ["v": ["type": "integer"], "next": ["anyOf": [["$ref": "#/$defs/node"], ["type": "null"]]]],
                               "required": ["v", "next"], "additionalProperties": false]],
            "$ref": "#/$defs/node",
        ], valid: [#"{"v": 1, "next": null}"#, #"{"v": 1, "next": {"v": 2, "next": null}}"#], invalid: [#"{"v": 1}"#, #"{"v": 1, "next": 3}"#]),
        SchemaCase(label: "definitions and root ref", schema: [
            "type": "object", "properties": ["child": ["$ref": "#"], "tag": ["$ref": "#/definitions/tag"]],
            "definitions": ["tag": ["type": "string", "enum": ["x", "y"]]],
        ], valid: ["{}", #"{"child": {"child": {}}, "tag": "x"}"#], invalid: [#"{"tag": "z"}"#]),
        SchemaCase(label: "pattern", schema: ["type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"], valid: [#""AB-123""#], invalid: [#""AB-12""#, #""ab-123""#, #"" AB-123""#]),
        SchemaCase(label: "unanchored pattern", schema: ["type": "string", "pattern": "ab"], valid: [#""ab""#, #""xxabyy""#], invalid: [#""a b""#]),
        SchemaCase(label: "pattern with escapes", schema: ["type": "string", "pattern": "^a\"b\\\\c\\n$"], valid: [#""a\"b\\c\n""#], invalid: ["\"a\"b\\c\n\""]),
        SchemaCase(label: "date", schema: ["type": "string", "format": "date"], valid: [#""2024-02-29""#, #""1999-12-31""#],
                   invalid: [#""2023-02-29""#, #""2024-13-01""#, #""2024-04-31""#, #""1900-02-29""#]),
        SchemaCase(label: "date-time", schema: ["type": "string", "format": "date-time"], valid: [#""2024-05-01T12:30:00Z""#, #""2024-05-01T23:59:59.123+02:00""#],
                   invalid: [#""2024-05-01 12:30:00Z""#, #""2024-05-01T24:00:00Z""#]),
        SchemaCase(label: "time", schema: ["format": "time"], valid: [#""08:00:00Z""#], invalid: [#""8:00""#]),
        SchemaCase(label: "uuid", schema: ["type": "string", "format": "uuid"], valid: [#""123e4567-e89b-12d3-a456-426614174000""#], invalid: [#""123e4567""#]),
        SchemaCase(label: "email", schema: ["type": "string", "format": "email"], valid: [#""a.b@example.com""#], invalid: [#""a@b""#, #""@example.com""#]),
        SchemaCase(label: "uri", schema: ["type": "string", "format": "uri"], valid: [#""https://example.com/a?b=c#d""#], invalid: [#""no scheme""#]),
        SchemaCase(label: "unicode keys and values", schema: ["type": "object", "properties": ["名前": ["const": "é😀"]], "required": ["名前"]],
                   valid: [#"{"名前": "é😀"}"#], invalid: [#"{"名前": "e"}"#]),
        SchemaCase(label: "escaped key", schema: ["type": "object", "properties": ["a\"b": ["type": "integer"]], "required": ["a\"b"]],
                   valid: [#"{"a\"b": 1}"#], invalid: [#"{"ab": 1}"#]),
        SchemaCase(label: "true schema", schema: true, valid: ["1", "[]", #"{"a": [true]}"#, #""s""#], invalid: ["", "tru"]),
        SchemaCase(label: "empty schema with annotations", schema: ["title": "x", "description": "y", "default": 1, "examples": [1]],
                   valid: ["null", "2"], invalid: ["nul"]),
        SchemaCase(label: "nested", schema: [
            "type": "object",
            "properties": ["users": ["type": "array", "maxItems": 2, "items": [
                "type": "object", "properties": ["name": ["type": "string", "maxLength": 5], "age": ["type": ["integer", "null"], "minimum": 0]],
                "required": ["name", "age"],
            ]]],
            "required": ["users"],
        ], valid: [#"{"users": []}"#, #"{"users": [{"name": "Al", "age": null}, {"name": "Bo", "age": 3}]}"#],
           invalid: [#"{"users": [{"name": "Al", "age": -1}]}"#, #"{"users": [{"name": "Alexander", "age": 1}]}"#]),
        SchemaCase(label: "whitespace is bounded", schema: ["type": "array"], valid: ["[ ]", "[\n    1]"],
                   invalid: ["[  1]", "[\n" + String(repeating: " ", count: 21) + "1]"]),
    ]

    @Test(arguments: cases)
    func instances(_ testCase: SchemaCase) throws {
        let grammar = try Grammar.jsonSchema(testCase.schema)
        for text in testCase.valid where !text.isEmpty {
            #expect(matches(grammar, text), "\(testCase.label): should accept \(text)")
        }
        for text in testCase.invalid {
            #expect(!matches(grammar, text), "\(testCase.label): should refuse \(text)")
        }
    }

    @Test(arguments: cases)
    func randomWalksProduceJSON(_ testCase: SchemaCase) throws {
        let grammar = try Grammar.jsonSchema(testCase.schema)
        for seed in 0..<4 {
            let walk = randomWalk(grammar, vocabulary: sharedSyntheticVocabulary, seed: UInt64(seed) * 7919 + 1)
            guard walk.ended else { continue }
            #expect(matches(grammar, bytes: walk.text), "\(testCase.label): walk not accepted byte by byte")
            do {
                _ = try JSONParser.parse(walk.text)
            } catch {
                Issue.record("\(testCase.label): \(error) in \(String(decoding: walk.text, as: UTF8.self))")
            }
        }
    }

    @Test func jsonObjectGrammar() throws {
        let grammar = Grammar.jsonObject()
        #expect(matches(grammar, #"{"a": {"b": [1, 2, {"c": "d"}]}, "e": null}"#))
        #expect(!matches(grammar, "[1]") && !matches(grammar, "\"a\"") && !matches(grammar, "{"))
        var ended = 0
        for seed in 0..<20 {
            let walk = randomWalk(grammar, vocabulary: sharedSyntheticVocabulary, seed: UInt64(seed))
            guard walk.ended else { continue }
            ended += 1
            let value = try JSONParser.parse(walk.text)
            if case .object = value {} else { Issue.record("not an object: \(walk.text)") }
        }
        #expect(ended > 5)
    }

    @Test func builderComposesToolCalls() throws {
        let builder = GBNFBuilder()
        let weather = try builder.addSchema(["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]], name: "weather")
        let time = try builder.addSchema(["type": "object", "properties": ["zone": ["type": "string"]], "required": ["zone"]], name: "time")
        builder.addRule("call", "\(GBNFBuilder.literal("<tool_call>{\"name\": \"weather\", \"arguments\": ")) \(weather) \"}</tool_call>\" | \(GBNFBuilder.literal("<tool_call>{\"name\": \"time\", \"arguments\": ")) \(time) \"}</tool_call>\"")
        builder.addRule("root", "call+")
        let text = builder.gbnf(root: "root")
        #expect(text.hasPrefix("root ::= call+\n"))
        #expect(text.components(separatedBy: "\nspace ::=").count == 2, "shared rules are added once")
        let grammar = try builder.build(root: "root")
        #expect(matches(grammar, #"<tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>"#))
        #expect(!matches(grammar, #"<tool_call>{"name": "weather", "arguments": {"zone": "Oslo"}}</tool_call>"#))
        #expect(GBNFBuilder.literal("a\"b\\c\n") == #""a\"b\\c\n""#)
    }

    @Test func addRuleReplaces() throws {
        let builder = GBNFBuilder()
        builder.addRule("root", "\"a\"")
        builder.addRule("root", "\"b\"")
        let grammar = try builder.build(root: "root")
        #expect(matches(grammar, "b") && !matches(grammar, "a"))
    }
}
