import Foundation
import JSON

/// Translates a JSON Schema (draft 2020-12 subset) into GBNF rules of a `GBNFBuilder`.
///
/// Every expression it returns matches one JSON value followed by bounded whitespace (`space`).
/// Keywords that constrain output but cannot be enforced are errors naming their JSON path;
/// nothing is silently skipped.
struct JSONSchemaConverter {
    let builder: GBNFBuilder
    let name: String
    let document: JSONValue

    /// Rule names of `$ref` targets already scheduled, by JSON pointer.
    private var refRules: [String: String] = [:]
    private var pendingRefs: [(rule: String, schema: JSONValue, path: String)] = []
    private var nodeCount = 0

    /// Keywords that describe but do not constrain output.
    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "example", "$schema", "$id", "$comment", "deprecated",
        "readOnly", "writeOnly", "discriminator", "contentMediaType", "contentEncoding", "$anchor", "$vocabulary",
        "$defs", "definitions", "nullable",
    ]

    /// Keywords this converter enforces.
    static let supported: Set<String> = [
        "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref",
        "properties", "required", "additionalProperties",
        "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
        "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minProperties",
    ]

    init(builder: GBNFBuilder, name: String, document: JSONValue) {
        self.builder = builder
        self.name = name
        self.document = document
    }

    mutating func convert() throws(GrammarError) -> String {
        refRules["#"] = name
        let body = try expression(document, path: "$", depth: 0)
        builder.addRule(name, body)
        while let pending = pendingRefs.popLast() {
            builder.addRule(pending.rule, try expression(pending.schema, path: pending.path, depth: 0))
        }
        return name
    }

    // MARK: Helpers

    func error(_ path: String, _ reason: String) -> GrammarError { GrammarError(location: path, reason: reason) }

    /// A new rule holding `body`; returns its name.
    func rule(_ hint: String, _ body: String) throws(GrammarError) -> String {
        guard builder.ruleCount < GrammarLimits.maximumRules else {
            throw error("$", "the schema needs more than \(GrammarLimits.maximumRules) grammar rules")
        }
        return builder.addRule(builder.uniqueName("\(name)-\(hint)"), body)
    }

    var space: String { builder.shared("space") }

    /// A literal for a JSON value written compactly, followed by whitespace.
    func literal(_ value: JSONValue, path: String) throws(GrammarError) -> String {
        if case .double(let number) = value, !number.isFinite { throw error(path, "a non-finite number has no JSON form") }
        return "\(GBNFBuilder.literal(value.serialized)) \(space)"
    }

    static func choice(_ branches: [String]) -> String {
        let unique = branches.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if unique.count == 1 { return unique[0] }
        return "(" + unique.joined(separator: " | ") + ")"
    }

    // MARK: Schemas

    /// An expression for one value valid against `schema`.
    mutating func expression(_ schema: JSONValue, path: String, depth: Int) throws(GrammarError) -> String {
        guard depth <= GrammarLimits.maximumSchemaDepth else {
            throw error(path, "schema nested deeper than \(GrammarLimits.maximumSchemaDepth) levels")
        }
        nodeCount += 1
        guard nodeCount <= GrammarLimits.maximumSchemaNodes else {
            throw error(path, "schema larger than \(GrammarLimits.maximumSchemaNodes) subschemas")
        }
        switch schema {
        case .bool(true): return builder.shared("json-value-0")
        case .bool(false): throw error(path, "the schema 'false' matches nothing")
        case .object(let object): return try objectSchema(object, path: path, depth: depth)
        default: throw error(path, "a schema must be an object or a boolean, not \(schema.typeName)")
        }
    }

    private mutating func objectSchema(_ schema: JSONObject, path: String, depth: Int) throws(GrammarError) -> String {
        // Merges re-enter here without passing through `expression`, so the bound is checked again.
        guard depth <= GrammarLimits.maximumSchemaDepth else {
            throw error(path, "schema nested deeper than \(GrammarLimits.maximumSchemaDepth) levels (or allOf/$ref expanding without end)")
        }
        for key in schema.keys where !Self.annotations.contains(key) && !Self.supported.contains(key) {
            throw error("\(path).\(key)", "keyword '\(key)' cannot be enforced by a grammar")
        }
        if let nullable = schema["nullable"] {
            guard case .bool(let isNullable) = nullable else { throw error("\(path).nullable", "must be a boolean") }
            if isNullable {
                var rest = schema
                rest["nullable"] = nil
                let inner = try objectSchema(rest, path: path, depth: depth)
                return Self.choice([inner, builder.shared("json-null")])
            }
        }
        if let reference = schema["$ref"] {
            guard case .string(let pointer) = reference else { throw error("\(path).$ref", "must be a string") }
            let siblings = schema.pairs.filter { $0.key != "$ref" && !Self.annotations.contains($0.key) }
            if siblings.isEmpty { return try refRule(pointer, path: "\(path).$ref") }
            // Keywords next to $ref constrain too: the same as allOf of the target and them.
            let merged = try merge([.object(schema)], path: path)
            return try objectSchema(merged, path: path, depth: depth + Self.mergeDepthCost)
        }
        if let allOf = schema["allOf"] {
            guard case .array(let branches) = allOf, !branches.isEmpty else { throw error("\(path).allOf", "must be a non-empty array") }
            let merged = try merge([.object(schema)], path: path)
            return try objectSchema(merged, path: path, depth: depth + Self.mergeDepthCost)
        }
        for keyword in ["anyOf", "oneOf"] {
            guard let value = schema[keyword] else { continue }
            guard case .array(let branches) = value, !branches.isEmpty else { throw error("\(path).\(keyword)", "must be a non-empty array") }
            guard branches.count <= GrammarLimits.maximumEnumValues else { throw error("\(path).\(keyword)", "more than \(GrammarLimits.maximumEnumValues) branches") }
            if keyword == "anyOf", schema["oneOf"] != nil { throw error("\(path).oneOf", "anyOf and oneOf together cannot be enforced") }
            let siblings = JSONObject(schema.pairs.filter { $0.key != keyword && !Self.annotations.contains($0.key) }.map { ($0.key, $0.value) })
            var alternatives: [String] = []
            for (index, branch) in branches.enumerated() {
                let branchPath = "\(path).\(keyword)[\(index)]"
                if siblings.pairs.isEmpty {
                    alternatives.append(try expression(branch, path: branchPath, depth: depth + 1))
                } else {
                    // Keywords beside anyOf apply to every branch.
                    let merged = try merge([.object(siblings), branch], path: path)
                    alternatives.append(try objectSchema(merged, path: branchPath, depth: depth + 1))
                }
            }
            // oneOf is generated like anyOf: exclusivity is not enforced (documented).
            return Self.choice(alternatives)
        }
        if let constant = schema["const"] { return try literal(constant, path: "\(path).const") }
        let types = try self.types(schema, path: path)
        if let enumeration = schema["enum"] {
            guard case .array(let values) = enumeration, !values.isEmpty else { throw error("\(path).enum", "must be a non-empty array") }
            guard values.count <= GrammarLimits.maximumEnumValues else { throw error("\(path).enum", "more than \(GrammarLimits.maximumEnumValues) values") }
            var alternatives: [String] = []
            for value in values where types == nil || types!.contains(where: { Self.value(value, hasType: $0) }) {
                alternatives.append(try literal(value, path: "\(path).enum"))
            }
            guard !alternatives.isEmpty else { throw error("\(path).enum", "no value of the enum has an allowed type") }
            return alternatives.count == 1 ? alternatives[0] : try rule("enum", alternatives.joined(separator: " | "))
        }
        let allTypes = types ?? inferredTypes(schema)
        var alternatives: [String] = []
        for type in allTypes {
            switch type {
            case "null": alternatives.append(builder.shared("json-null"))
            case "boolean": alternatives.append(builder.shared("json-boolean"))
            case "string": alternatives.append(try stringSchema(schema, path: path))
            case "integer": alternatives.append(try numberSchema(schema, integer: true, path: path))
            case "number": alternatives.append(try numberSchema(schema, integer: false, path: path))
            case "object": alternatives.append(try objectTypeSchema(schema, path: path, depth: depth))
            case "array": alternatives.append(try arraySchema(schema, path: path, depth: depth))
            default: throw error("\(path).type", "unknown type '\(type)'")
            }
        }
        if allTypes.count == 6 && alternatives.count == 6 { return builder.shared("json-value-0") }
        return Self.choice(alternatives)
    }

    /// A merge re-enters the converter with bigger frames than plain nesting (and a `$ref` to an
    /// enclosing schema can make it repeat), so it counts as several levels of depth.
    static let mergeDepthCost = 4

    static let allTypeNames = ["object", "array", "string", "number", "boolean", "null"]

    /// The `type` keyword as a list (nil when absent), with "integer" dropped next to "number".
    private func types(_ schema: JSONObject, path: String) throws(GrammarError) -> [String]? {
        guard let value = schema["type"] else { return nil }
        var names: [String] = []
        switch value {
        case .string(let name): names = [name]
        case .array(let items):
            for item in items {
                guard case .string(let name) = item else { throw error("\(path).type", "must be a string or an array of strings") }
                if !names.contains(name) { names.append(name) }
            }
        default: throw error("\(path).type", "must be a string or an array of strings")
        }
        guard !names.isEmpty else { throw error("\(path).type", "must not be empty") }
        for name in names where !(Self.allTypeNames + ["integer"]).contains(name) {
            throw error("\(path).type", "unknown type '\(name)'")
        }
        if names.contains("number") { names.removeAll { $0 == "integer" } }
        return names
    }

    /// Without `type`, the types that the present keywords are about; any value when none.
    /// Generating only these is a subset of what the schema accepts, so still valid.
    private func inferredTypes(_ schema: JSONObject) -> [String] {
        var result: [String] = []
        let keys = Set(schema.keys)
        if !keys.isDisjoint(with: ["properties", "required", "additionalProperties", "minProperties"]) { result.append("object") }
        if !keys.isDisjoint(with: ["items", "prefixItems", "minItems", "maxItems", "uniqueItems"]) { result.append("array") }
        if !keys.isDisjoint(with: ["minLength", "maxLength", "pattern", "format"]) { result.append("string") }
        if !keys.isDisjoint(with: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]) { result.append("number") }
        return result.isEmpty ? Self.allTypeNames : result
    }

    static func value(_ value: JSONValue, hasType type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"): true
        case (.int, "integer"), (.int, "number"), (.double, "number"): true
        case (.double(let number), "integer"): number.rounded() == number
        default: false
        }
    }

    // MARK: $ref

    /// The rule for a local reference, scheduling the target's rule on first use.
    mutating func refRule(_ pointer: String, path: String) throws(GrammarError) -> String {
        let target = try resolve(pointer, path: path)
        // A chain of references that only leads to itself never produces a value.
        var seen: Set<String> = [pointer]
        var current = target
        while case .object(let object) = current, let next = object["$ref"], case .string(let nextPointer) = next,
              object.pairs.allSatisfy({ $0.key == "$ref" || Self.annotations.contains($0.key) }) {
            guard seen.insert(nextPointer).inserted else { throw error(path, "circular $ref '\(nextPointer)' with no base case") }
            current = try resolve(nextPointer, path: path)
        }
        if let existing = refRules[pointer] { return existing }
        let ruleName = builder.uniqueName("\(name)-ref-\(pointer.dropFirst(2))")
        refRules[pointer] = ruleName
        pendingRefs.append((ruleName, target, Self.path(ofPointer: pointer)))
        return ruleName
    }

    /// The schema a local JSON pointer (`#`, `#/$defs/x`, `#/definitions/x`, …) names.
    func resolve(_ pointer: String, path: String) throws(GrammarError) -> JSONValue {
        guard pointer.hasPrefix("#") else { throw error(path, "only local references (#/…) are supported, not '\(pointer)'") }
        if pointer == "#" { return document }
        guard pointer.hasPrefix("#/") else { throw error(path, "anchors ('\(pointer)') are not supported; use a JSON pointer") }
        var current = document
        for rawToken in pointer.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let token = (String(rawToken).removingPercentEncodingIfPossible)
                .replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let object):
                guard let next = object[token] else { throw error(path, "reference '\(pointer)' points to nothing") }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { throw error(path, "reference '\(pointer)' points to nothing") }
                current = items[index]
            default:
                throw error(path, "reference '\(pointer)' points to nothing")
            }
        }
        return current
    }

    static func path(ofPointer pointer: String) -> String {
        var path = "$"
        for token in pointer.dropFirst(2).split(separator: "/") {
            path += "." + token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
        return path
    }
}

extension String {
    /// `%25`-style escapes as used in URI fragments, decoded; unchanged when there are none.
    fileprivate var removingPercentEncodingIfPossible: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
