import JSON

/// `allOf` (and keywords beside `$ref`) by merging: the branches' keywords are combined into one
/// schema when that is exact (properties and required merge, bounds tighten, types intersect);
/// anything else is an error naming the path.
extension JSONSchemaConverter {
    /// How many `allOf` branches and `$ref` targets one merge may expand; a reference cycle
    /// through allOf would otherwise expand forever.
    private static let maximumMergeExpansions = 1_000

    func merge(_ schemas: [JSONValue], path: String) throws(GrammarError) -> JSONObject {
        var flat: [JSONObject] = []
        var work = schemas.reversed().map { ($0, 0) }
        var expansions = 0
        while let (schema, _) = work.popLast() {
            switch schema {
            case .bool(true): continue
            case .bool(false): throw error(path, "allOf contains the schema 'false', which matches nothing")
            case .object(var object):
                if let reference = object["$ref"] {
                    guard case .string(let pointer) = reference else { throw error("\(path).$ref", "must be a string") }
                    expansions += 1
                    guard expansions <= Self.maximumMergeExpansions else { throw error(path, "allOf/$ref expansion does not end (circular references?)") }
                    object["$ref"] = nil
                    work.append((.object(object), 0))
                    work.append((try resolve(pointer, path: "\(path).$ref"), 0))
                    continue
                }
                if let allOf = object["allOf"] {
                    guard case .array(let branches) = allOf, !branches.isEmpty else { throw error("\(path).allOf", "must be a non-empty array") }
                    expansions += branches.count
                    guard expansions <= Self.maximumMergeExpansions else { throw error(path, "allOf/$ref expansion does not end (circular references?)") }
                    object["allOf"] = nil
                    work.append((.object(object), 0))
                    for branch in branches.reversed() { work.append((branch, 0)) }
                    continue
                }
                flat.append(object)
            default:
                throw error(path, "a schema must be an object or a boolean, not \(schema.typeName)")
            }
        }
        var result = JSONObject()
        for object in flat { try mergeKeywords(into: &result, object, path: path) }
        // additionalProperties in one branch also forbids properties another branch declares.
        let allProperties = Set(propertyNames(result))
        for object in flat {
            guard let additional = object["additionalProperties"], additional != .bool(true) else { continue }
            let own = Set(propertyNames(object))
            if let extra = allProperties.subtracting(own).sorted().first {
                throw error("\(path).allOf", "property '\(extra)' is forbidden by another branch's additionalProperties; cannot merge")
            }
        }
        return result
    }

    private func propertyNames(_ object: JSONObject) -> [String] {
        if case .object(let properties)? = object["properties"] { return properties.keys }
        return []
    }

    private func mergeKeywords(into result: inout JSONObject, _ other: JSONObject, path: String) throws(GrammarError) {
        for (key, value) in other.pairs {
            guard let existing = result[key] else { result[key] = value; continue }
            if existing == value || Self.annotations.contains(key) { continue }
            let location = "\(path).allOf"
            switch key {
            case "properties":
                guard case .object(var mine) = existing, case .object(let theirs) = value else { throw error(location, "'properties' must be objects") }
                for (name, schema) in theirs.pairs {
                    if let current = mine[name], current != schema {
                        mine[name] = .object(["allOf": .array([current, schema])])
                    } else {
                        mine[name] = schema
                    }
                }
                result[key] = .object(mine)
            case "required":
                guard case .array(var mine) = existing, case .array(let theirs) = value else { throw error(location, "'required' must be arrays") }
                for name in theirs where !mine.contains(name) { mine.append(name) }
                result[key] = .array(mine)
            case "type":
                let mine = typeSet(existing), theirs = typeSet(value)
                var common = mine.filter { theirs.contains($0) }
                if mine.contains("number") && theirs.contains("integer") && !common.contains("integer") { common.append("integer") }
                if theirs.contains("number") && mine.contains("integer") && !common.contains("integer") { common.append("integer") }
                guard !common.isEmpty else { throw error(location, "the branches allow no common type") }
                result[key] = .array(common.map { .string($0) })
            case "minimum", "minLength", "minItems", "exclusiveMinimum":
                guard let a = number(existing), let b = number(value) else { throw error(location, "cannot merge differing '\(key)'") }
                result[key] = a >= b ? existing : value
            case "maximum", "maxLength", "maxItems", "exclusiveMaximum":
                guard let a = number(existing), let b = number(value) else { throw error(location, "cannot merge differing '\(key)'") }
                result[key] = a <= b ? existing : value
            case "enum":
                guard case .array(let mine) = existing, case .array(let theirs) = value else { throw error(location, "'enum' must be arrays") }
                let common = mine.filter { theirs.contains($0) }
                guard !common.isEmpty else { throw error(location, "the branches' enums have no common value") }
                result[key] = .array(common)
            case "items", "additionalProperties":
                if existing == .bool(true) { result[key] = value; continue }
                if value == .bool(true) { continue }
                result[key] = .object(["allOf": .array([existing, value])])
            default:
                throw error(location, "cannot merge differing '\(key)' of the allOf branches")
            }
        }
    }

    private func typeSet(_ value: JSONValue) -> [String] {
        switch value {
        case .string(let name): return [name]
        case .array(let names): return names.compactMap { if case .string(let name) = $0 { name } else { nil } }
        default: return []
        }
    }

    private func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let integer): Double(integer)
        case .double(let double): double
        default: nil
        }
    }
}
