import JSON

/// Composes grammars from pieces (used to build tool-call grammars: literal markers around
/// schema-constrained JSON).
///
/// Schemas share helper rules (`space`, `json-string`, `json-number`, `json-value-0`…), added
/// once however many schemas are added.
public final class GBNFBuilder {
    private var rules: [(name: String, body: String)] = []
    private var ruleIndex: [String: Int] = [:]

    public init() {}

    /// Adds the rules for `schema`, returns the name of its rule. Shared helper rules (space,
    /// string, number, value…) are added once, however many schemas are added.
    public func addSchema(_ schema: JSONValue, name: String) throws(GrammarError) -> String {
        var converter = JSONSchemaConverter(builder: self, name: uniqueName(name), document: schema)
        return try LargeStack.run { () throws(GrammarError) -> String in try converter.convert() }
    }

    /// Adds (or replaces) a rule written in GBNF; returns its name.
    @discardableResult public func addRule(_ name: String, _ body: String) -> String {
        if let index = ruleIndex[name] {
            rules[index].body = body
        } else {
            ruleIndex[name] = rules.count
            rules.append((name, body))
        }
        return name
    }

    /// Whether a rule of that name exists.
    public func hasRule(_ name: String) -> Bool { ruleIndex[name] != nil }

    /// A GBNF string literal that matches exactly `text` (quotes and escapes it).
    public static func literal(_ text: String) -> String {
        GrammarNode.text(text).gbnf
    }

    /// The whole grammar as GBNF text, `root` first.
    public func gbnf(root: String) -> String {
        var output = ""
        if let index = ruleIndex[root] { output += "\(root) ::= \(rules[index].body)\n" }
        for rule in rules where rule.name != root { output += "\(rule.name) ::= \(rule.body)\n" }
        return output
    }

    public func build(root: String) throws(GrammarError) -> Grammar {
        try Grammar(gbnf: gbnf(root: root), root: root)
    }

    /// Builds a grammar made from schemas only: a compile error there (recursion without a base
    /// case, say) is reported against the schema (`$`) rather than a line of generated text.
    func buildSchemaGrammar(root: String) throws(GrammarError) -> Grammar {
        do {
            return try build(root: root)
        } catch {
            throw GrammarError(location: "$", reason: "the schema cannot be compiled: \(error.reason) (at \(error.location) of the generated grammar)")
        }
    }

    var ruleCount: Int { rules.count }

    /// A rule name not used yet, built from `base` (characters GBNF does not allow become '-').
    func uniqueName(_ base: String) -> String {
        var cleaned = String(base.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-": Character(scalar)
            default: "-"
            }
        })
        if cleaned.isEmpty { cleaned = "rule" }
        if cleaned.count > 60 { cleaned = String(cleaned.prefix(60)) }
        if ruleIndex[cleaned] == nil && !reservedNames.contains(cleaned) {
            reservedNames.insert(cleaned)
            return cleaned
        }
        var suffix = 2
        while ruleIndex["\(cleaned)-\(suffix)"] != nil || reservedNames.contains("\(cleaned)-\(suffix)") { suffix += 1 }
        reservedNames.insert("\(cleaned)-\(suffix)")
        return "\(cleaned)-\(suffix)"
    }

    private var reservedNames: Set<String> = []

    // MARK: Shared JSON rules

    /// Nesting allowed inside a value the schema leaves open (`{}`, `true`, `jsonObject()`):
    /// deep enough for real data, shallow enough that every reader (JSONParser's limit is 64)
    /// accepts the result together with the schema's own nesting.
    static let openValueDepth = 20

    /// Adds the shared rule `name` (and those it uses) if missing; returns `name`.
    @discardableResult func shared(_ name: String) -> String {
        if ruleIndex[name] != nil { return name }
        switch name {
        case "space":
            // Bounded: at most a newline and 20 blanks between tokens, so a small model cannot
            // fill its output with whitespace.
            addRule(name, "| \" \" | \"\\n\" [ \\t]{0,20}")
        case "json-hex":
            addRule(name, "[0-9a-fA-F]")
        case "json-char":
            shared("json-hex")
            // \u escapes exclude lone surrogates (strict readers refuse them); pairs are allowed.
            addRule(name, "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-CeEfF] json-hex{3} | [dD] [0-7] json-hex{2} | [dD] [89abAB] json-hex{2} \"\\\\u\" [dD] [c-fC-F] json-hex{2}))")
        case "json-string":
            addRule(name, "\"\\\"\" \(shared("json-char"))* \"\\\"\" \(shared("space"))")
        case "json-integral":
            // 16 digits: what a double holds exactly; unbounded integers are limited to this.
            addRule(name, "\"0\" | [1-9] [0-9]{0,15}")
        case "json-number":
            // The exponent is capped at two digits so every number is finite as a double.
            addRule(name, "\"-\"? \(shared("json-integral")) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})? \(shared("space"))")
        case "json-integer":
            addRule(name, "\"-\"? \(shared("json-integral")) \(shared("space"))")
        case "json-boolean":
            addRule(name, "(\"true\" | \"false\") \(shared("space"))")
        case "json-null":
            addRule(name, "\"null\" \(shared("space"))")
        default:
            if name.hasPrefix("json-value-"), let depth = Int(name.dropFirst("json-value-".count)) {
                addOpenValue(depth: depth)
            } else if name.hasPrefix("json-object-"), let depth = Int(name.dropFirst("json-object-".count)) {
                addOpenValue(depth: depth)
            }
        }
        return name
    }

    private func addOpenValue(depth: Int) {
        let scalars = "\(shared("json-string")) | \(shared("json-number")) | \(shared("json-boolean")) | \(shared("json-null"))"
        // Built from the deepest level up so no rule refers to one not yet added.
        for level in stride(from: Self.openValueDepth, through: depth, by: -1) where ruleIndex["json-value-\(level)"] == nil {
            if level == Self.openValueDepth {
                addRule("json-value-\(level)", scalars)
                continue
            }
            let inner = "json-value-\(level + 1)"
            let pair = "json-string \":\" space \(inner)"
            addRule("json-object-\(level)", "\"{\" space (\(pair) (\",\" space \(pair))*)? \"}\" space")
            addRule("json-array-\(level)", "\"[\" space (\(inner) (\",\" space \(inner))*)? \"]\" space")
            addRule("json-value-\(level)", "json-object-\(level) | json-array-\(level) | \(scalars)")
        }
    }
}
