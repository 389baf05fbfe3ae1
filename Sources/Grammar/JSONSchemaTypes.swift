import JSON

/// Objects, arrays and strings of `JSONSchemaConverter`.
extension JSONSchemaConverter {
    func nonNegativeInteger(_ schema: JSONObject, _ key: String, path: String) throws(GrammarError) -> Int? {
        guard let value = schema[key] else { return nil }
        switch value {
        case .int(let integer) where integer >= 0: return integer
        case .double(let double) where double >= 0 && double.rounded() == double && double < 1e15: return Int(double)
        default: throw error("\(path).\(key)", "must be a non-negative integer")
        }
    }

    /// `expression` as a rule name: itself when it already is one, else a new rule.
    func named(_ hint: String, _ expression: String) throws(GrammarError) -> String {
        let isName = !expression.isEmpty && expression.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
        return isName ? expression : try rule(hint, expression)
    }

    // MARK: Objects

    mutating func objectTypeSchema(_ schema: JSONObject, path: String, depth: Int) throws(GrammarError) -> String {
        var properties: [(name: String, schema: JSONValue)] = []
        if let value = schema["properties"] {
            guard case .object(let object) = value else { throw error("\(path).properties", "must be an object") }
            properties = object.pairs.map { ($0.key, $0.value) }
        }
        var required: [String] = []
        if let value = schema["required"] {
            guard case .array(let names) = value else { throw error("\(path).required", "must be an array of strings") }
            for name in names {
                guard case .string(let text) = name else { throw error("\(path).required", "must be an array of strings") }
                if !required.contains(text) { required.append(text) }
            }
        }
        // A required name without a declared schema may hold any value.
        for name in required where !properties.contains(where: { $0.name == name }) { properties.append((name, .bool(true))) }
        if let minimum = try nonNegativeInteger(schema, "minProperties", path: path), minimum > required.count {
            throw error("\(path).minProperties", "minProperties above the number of required properties cannot be enforced")
        }

        var additional: JSONValue? = schema["additionalProperties"]
        if additional == nil && properties.isEmpty { additional = .bool(true) }
        if additional == .bool(false) { additional = nil }
        if properties.isEmpty, additional == .bool(true) {
            return builder.shared("json-object-0")
        }

        let colon = "space \":\" space"
        var pairs: [String] = []
        for (index, property) in properties.enumerated() {
            var keyText = ""
            JSONValue.writeString(property.name, to: &keyText)
            let value = try expression(property.schema, path: "\(path).properties.\(property.name)", depth: depth + 1)
            pairs.append(try rule("\(property.name)-kv", "\(GBNFBuilder.literal(keyText)) \(colon) \(value)"))
            _ = index
        }
        var extraPair: String? = nil
        if let additional {
            let value = try expression(additional, path: "\(path).additionalProperties", depth: depth + 1)
            let key = try keyExcluding(properties.map(\.name))
            extraPair = try rule("additional-kv", "\(key) \(colon) \(value)")
        }
        let comma = "\",\" \(space)"
        // tails[i]: properties i… after at least one pair was written (each preceded by a comma).
        var tails = [String](repeating: "", count: properties.count + 1)
        if let extraPair { tails[properties.count] = "(\(comma) \(extraPair))*" }
        for index in stride(from: properties.count - 1, through: 0, by: -1) {
            let item = "\(comma) \(pairs[index])"
            let isRequired = required.contains(properties[index].name)
            let body = isRequired ? "\(item) \(tails[index + 1])" : "(\(item))? \(tails[index + 1])"
            tails[index] = try rule("tail", body)
        }
        // heads[i]: properties i… before any pair was written.
        var head = extraPair.map { "(\($0) \(tails[properties.count]))?" } ?? ""
        for index in stride(from: properties.count - 1, through: 0, by: -1) {
            let first = "\(pairs[index]) \(tails[index + 1])"
            if required.contains(properties[index].name) {
                head = first
            } else {
                head = try rule("head", head.isEmpty ? "(\(first))?" : "\(first) | \(head)")
            }
        }
        return "\"{\" \(space) \(head) \"}\" \(space)"
    }

    /// A JSON string key that is none of `excluded`. Escapes are left out of such keys so the
    /// written text is the key itself and the exclusion is exact (a trie of the excluded names).
    private func keyExcluding(_ excluded: [String]) throws(GrammarError) -> String {
        let plain = "[^\"\\\\\\x00-\\x1F]"
        if excluded.isEmpty { return "\"\\\"\" \(plain)* \"\\\"\" \(space)" }
        // The trie below is walked recursively, one level per character.
        if let long = excluded.first(where: { $0.unicodeScalars.count > 256 }) {
            throw error("$", "property name '\(long.prefix(40))…' is longer than 256 characters")
        }
        final class Node { var children: [(UInt32, Node)] = []; var terminal = false }
        let root = Node()
        for name in excluded {
            var node = root
            for scalar in name.unicodeScalars.map(\.value) {
                if let child = node.children.first(where: { $0.0 == scalar })?.1 { node = child; continue }
                let child = Node()
                node.children.append((scalar, child))
                node = child
            }
            node.terminal = true
        }
        // One rule per trie node: end here (unless an excluded name ends here), follow a child,
        // or leave the trie with any other character and then anything.
        var counter = 0
        func emit(_ node: Node) throws(GrammarError) -> String {
            counter += 1
            var alternatives: [String] = []
            if !node.terminal { alternatives.append("\"\\\"\" \(space)") }
            var childScalars = CodePointSet.empty
            for (scalar, child) in node.children where !RegexParser.needsEscape.contains(scalar) {
                childScalars = childScalars.union(CodePointSet(scalar: scalar))
                alternatives.append("\(GrammarNode.literal([scalar]).gbnf) \(try emit(child))")
            }
            let others = CodePointSet([0x00...0x1F, 0x22...0x22, 0x5C...0x5C]).union(childScalars).inverted
            if !others.isEmpty { alternatives.append("\(GrammarNode.set(others).gbnf) \(plain)* \"\\\"\" \(space)") }
            return try rule("key", alternatives.joined(separator: " | "))
        }
        return "\"\\\"\" \(try emit(root))"
    }

    // MARK: Arrays

    mutating func arraySchema(_ schema: JSONObject, path: String, depth: Int) throws(GrammarError) -> String {
        var prefix: [String] = []
        if let value = schema["prefixItems"] {
            guard case .array(let schemas) = value else { throw error("\(path).prefixItems", "must be an array of schemas") }
            for (index, item) in schemas.enumerated() {
                prefix.append(try expression(item, path: "\(path).prefixItems[\(index)]", depth: depth + 1))
            }
        }
        var items: String? = nil
        switch schema["items"] {
        case nil: items = builder.shared("json-value-0")
        case .bool(false)?: items = nil
        case let value?:
            if case .array = value { throw error("\(path).items", "an array of schemas is draft-04 tuple syntax; use prefixItems") }
            // Named, since the list uses it twice: inlined, nested arrays would double per level.
            items = try named("items", expression(value, path: "\(path).items", depth: depth + 1))
        }
        let minimum = try nonNegativeInteger(schema, "minItems", path: path) ?? 0
        var maximum = try nonNegativeInteger(schema, "maxItems", path: path)
        if let maximum, prefix.count > maximum { prefix.removeLast(prefix.count - maximum) }
        if items == nil { maximum = min(maximum ?? prefix.count, prefix.count) }
        if let unique = schema["uniqueItems"], unique != .bool(false), (maximum ?? 2) > 1 {
            throw error("\(path).uniqueItems", "uniqueItems cannot be enforced by a grammar")
        }
        for (key, value) in [("minItems", minimum), ("maxItems", maximum ?? 0)] where value > GrammarLimits.maximumRepetition {
            throw error("\(path).\(key)", "\(key) above \(GrammarLimits.maximumRepetition) is not supported")
        }
        if let maximum, maximum < minimum {
            throw error("\(path).minItems", "no array length satisfies minItems \(minimum) and the maximum \(maximum)")
        }
        let open = "\"[\" \(space)", close = "\"]\" \(space)"
        if maximum == 0 { return "\(open) \(close)" }
        let comma = "\",\" \(space)"
        // After `count` elements were written: the rest, each preceded by a comma.
        var tail: String
        let count = max(prefix.count, 1)
        if let items {
            let remainingMinimum = max(0, minimum - count)
            let bound = maximum.map { ",\($0 - count)" } ?? ","
            tail = maximum.map { $0 - count <= 0 } ?? false ? "" : "(\(comma) \(items)){\(remainingMinimum)\(bound)}"
        } else {
            tail = ""
        }
        if prefix.count > 1 {
            for index in stride(from: prefix.count - 1, through: 1, by: -1) {
                let item = "\(comma) \(prefix[index]) \(tail)"
                tail = try rule("items", index >= minimum ? "(\(item))?" : item)
            }
        }
        let first = prefix.first ?? items!
        let list = "\(first) \(tail)"
        return minimum == 0 ? "\(open) (\(list))? \(close)" : "\(open) \(list) \(close)"
    }

    // MARK: Strings

    mutating func stringSchema(_ schema: JSONObject, path: String) throws(GrammarError) -> String {
        let minimum = try nonNegativeInteger(schema, "minLength", path: path)
        let maximum = try nonNegativeInteger(schema, "maxLength", path: path)
        let quote = "\"\\\"\""
        if let pattern = schema["pattern"] {
            guard case .string(let text) = pattern else { throw error("\(path).pattern", "must be a string") }
            if schema["format"] != nil { throw error("\(path).format", "format together with pattern cannot be enforced") }
            if minimum != nil || maximum != nil {
                throw error("\(path).\(minimum != nil ? "minLength" : "maxLength")", "length limits together with pattern cannot be enforced")
            }
            let node: GrammarNode
            do {
                node = try RegexParser.parse(text, mode: .jsonString)
            } catch {
                throw self.error("\(path).pattern", "\(error.reason) (at \(error.location) of the pattern)")
            }
            return try rule("pattern", "\(quote) \(node.gbnf) \(quote) \(space)")
        }
        if let format = schema["format"] {
            guard case .string(let name) = format else { throw error("\(path).format", "must be a string") }
            guard let body = StringFormats.gbnf(name) else { throw error("\(path).format", "format '\(name)' is not supported") }
            if minimum != nil || maximum != nil {
                throw error("\(path).\(minimum != nil ? "minLength" : "maxLength")", "length limits together with format cannot be enforced")
            }
            return try rule("format-\(name)", "\(quote) \(body) \(quote) \(space)")
        }
        let char = builder.shared("json-char")
        if minimum == nil && maximum == nil { return builder.shared("json-string") }
        let low = minimum ?? 0
        if let maximum, maximum < low { throw error("\(path).minLength", "minLength is above maxLength") }
        for (key, value) in [("minLength", low), ("maxLength", maximum ?? 0)] where value > GrammarLimits.maximumRepetition {
            throw error("\(path).\(key)", "\(key) above \(GrammarLimits.maximumRepetition) is not supported")
        }
        let bound = maximum.map { "{\(low),\($0)}" } ?? "{\(low),}"
        return try rule("string", "\(quote) \(char)\(bound) \(quote) \(space)")
    }
}
