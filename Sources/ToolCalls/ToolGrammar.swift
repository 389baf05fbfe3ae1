import Grammar
import JSON

/// Builds the GBNF that keeps a family's calls well-formed: the family's markers, an offered
/// tool's name, and arguments matching that tool's schema. Whitespace between the pieces is
/// allowed as templates write it (a little, bounded, so a constrained model can't loop on it).
struct ToolGrammar {
    let family: ToolCallFormat.Family
    let tools: [ToolDefinition]

    private static let space = "tc-space"

    func constraint(choice: ToolChoice, parallel: Bool) throws(GrammarError) -> ToolConstraint? {
        guard let (builder, triggers) = try rules(choice: choice, parallel: parallel) else { return nil }
        return ToolConstraint(grammar: try builder.build(root: "root"), triggers: triggers)
    }

    /// The grammar's rules (root `root`) and its triggers; nil when nothing is constrained.
    func rules(choice: ToolChoice, parallel: Bool) throws(GrammarError) -> (GBNFBuilder, [String])? {
        var offered = tools
        switch choice {
        case .none: return nil
        case .function(let name):
            guard let tool = tools.first(where: { $0.name == name }) else {
                throw GrammarError(location: "tool_choice", reason: "no tool named \(name) is offered")
            }
            offered = [tool]
        case .auto, .required: break
        }
        guard !offered.isEmpty else { return nil }
        let builder = GBNFBuilder()
        builder.addRule(Self.space, Self.boundedWhitespace(8))
        var argumentRules: [String] = []
        for (index, tool) in offered.enumerated() {
            argumentRules.append(try builder.addSchema(tool.parameters, name: "tc-args-\(index)"))
        }
        let calls = addCalls(builder, offered, argumentRules, parallel: parallel)
        guard choice == .auto else {
            builder.addRule("root", calls)
            return (builder, [])
        }
        let (root, triggers) = addLazyRoot(builder, offered, argumentRules, calls: calls)
        builder.addRule("root", root)
        return (builder, triggers)
    }

    /// Adds the rules for one or more (with `parallel`) calls in the family's syntax and returns
    /// the rule name matching them.
    private func addCalls(_ builder: GBNFBuilder, _ offered: [ToolDefinition], _ argumentRules: [String], parallel: Bool) -> String {
        let space = Self.space
        var alternatives: [String] = []
        for (index, tool) in offered.enumerated() {
            let arguments = argumentRules[index]
            let body: String
            switch family {
            case .hermes:
                body = #""<tool_call>" \#(space) \#(jsonCall(tool, arguments, key: "arguments")) \#(space) "</tool_call>""#
            case .qwen3Coder:
                let parameters = addXMLParameters(builder, tool, index: index)
                body = #""<tool_call>" \#(space) \#(lit("<function=" + tool.name + ">")) "\n" \#(parameters) "</function>" \#(space) "</tool_call>""#
            case .llama3JSON:
                body = jsonCall(tool, arguments, key: "parameters")
            case .genericJSON:
                body = jsonCall(tool, arguments, key: "arguments")
            case .mistralArray:
                // The template adds a 9-character id to each call.
                let id = #"( "," \#(space) "\"id\"" \#(space) ":" \#(space) "\"" \#(Self.alphanumerics(9)) "\"" )?"#
                body = jsonCall(tool, arguments, key: "arguments", beforeClosing: id)
            case .mistralNamed(let callIDs):
                let callID = callIDs ? #" "[CALL_ID]" \#(Self.alphanumerics(9))"# : ""
                body = #""[TOOL_CALLS]" \#(lit(tool.name))\#(callID) "[ARGS]" \#(arguments)"#
            }
            alternatives.append(builder.addRule("tc-call-\(index)", body))
        }
        let call = builder.addRule("tc-call", alternatives.joined(separator: " | "))
        switch family {
        case .mistralArray:
            // Nemo's calls sit in one array.
            let elements = parallel ? #"\#(call) ( "," \#(space) \#(call) )*"# : call
            return builder.addRule("tc-calls", #""[TOOL_CALLS]" \#(space) "[" \#(elements) "]""#)
        case .mistralNamed:
            return builder.addRule("tc-calls", parallel ? "\(call)+" : call)
        default:
            return builder.addRule("tc-calls", parallel ? #"\#(call) ( \#(space) \#(call) )*"# : call)
        }
    }

    /// `.auto`: the grammar starts at a trigger, so the root is one alternative per trigger: the
    /// family's opening marker (matched by the full call syntax), and `"name": "TOOL"`, which
    /// is how a JSON call naming an offered tool goes on — bare, fenced or after a marker the
    /// family doesn't use — so the rest of the object is kept valid.
    private func addLazyRoot(_ builder: GBNFBuilder, _ offered: [ToolDefinition], _ argumentRules: [String], calls: String) -> (String, [String]) {
        let space = Self.space
        var alternatives: [String] = []
        var triggers: [String] = []
        switch family {
        case .hermes, .qwen3Coder:
            triggers.append("<tool_call>")
            alternatives.append(calls)
        case .mistralArray, .mistralNamed:
            triggers.append("[TOOL_CALLS]")
            alternatives.append(calls)
        case .llama3JSON:
            triggers.append("<|python_tag|>")
            alternatives.append(#""<|python_tag|>" \#(space) \#(calls)"#)
        case .genericJSON:
            break
        }
        for (index, tool) in offered.enumerated() {
            let quotedName = JSONValue.string(tool.name).serialized
            triggers += ["\"name\": \(quotedName)", "\"name\":\(quotedName)"]
            let rest = #""\"name\"" \#(space) ":" \#(space) \#(lit(quotedName)) \#(space) "," \#(space) ( "\"arguments\"" | "\"parameters\"" ) \#(space) ":" \#(space) \#(argumentRules[index]) \#(space) "}""#
            alternatives.append(builder.addRule("tc-named-\(index)", rest))
        }
        return (alternatives.joined(separator: " | "), triggers)
    }

    /// `{"name": "TOOL", "KEY": ARGS}` with bounded whitespace between tokens.
    private func jsonCall(_ tool: ToolDefinition, _ arguments: String, key: String, beforeClosing: String = "") -> String {
        let space = Self.space
        let quotedName = JSONValue.string(tool.name).serialized
        return #""{" \#(space) "\"name\"" \#(space) ":" \#(space) \#(lit(quotedName)) \#(space) "," \#(space) \#(lit("\"" + key + "\"")) \#(space) ":" \#(space) \#(arguments) \#(beforeClosing) \#(space) "}""#
    }

    /// Qwen3-Coder parameters in schema order: `<parameter=P>\nVALUE\n</parameter>\n`, required
    /// ones mandatory. String values are raw text (not containing `</`), others JSON.
    private func addXMLParameters(_ builder: GBNFBuilder, _ tool: ToolDefinition, index: Int) -> String {
        builder.addRule("tc-xml-text", #"( [^<] | "<" [^/] )*"#)
        guard case .object(let properties)? = tool.parameters["properties"], !properties.pairs.isEmpty else {
            // No declared properties: any parameters, as text.
            let free = #""<parameter=" [a-zA-Z0-9_.-]+ ">\n" tc-xml-text "\n</parameter>\n""#
            return builder.addRule("tc-xml-\(index)-any", free) + "*"
        }
        var required: Set<String> = []
        if case .array(let names)? = tool.parameters["required"] {
            for case .string(let name) in names { required.insert(name) }
        }
        var parts: [String] = []
        for (position, pair) in properties.pairs.enumerated() {
            let value: String
            if case .string("string")? = pair.value["type"] {
                // Strings are written raw, so an enum is a choice of unquoted literals.
                if case .array(let options)? = pair.value["enum"] {
                    let literals = options.compactMap { option -> String? in
                        if case .string(let text) = option { return lit(text) }
                        return nil
                    }
                    value = literals.isEmpty ? "tc-xml-text" : "( " + literals.joined(separator: " | ") + " )"
                } else {
                    value = "tc-xml-text"
                }
            } else if let rule = try? builder.addSchema(pair.value, name: "tc-xml-\(index)-\(position)") {
                value = rule
            } else {
                value = "tc-xml-text"
            }
            let parameter = builder.addRule(
                "tc-xml-\(index)-p\(position)",
                #"\#(lit("<parameter=" + pair.key + ">")) "\n" \#(value) "\n</parameter>\n""#
            )
            parts.append(required.contains(pair.key) ? parameter : "\(parameter)?")
        }
        return parts.joined(separator: " ")
    }

    private func lit(_ text: String) -> String { GBNFBuilder.literal(text) }

    /// Up to `count` spaces, tabs or newlines.
    static func boundedWhitespace(_ count: Int) -> String {
        "[ \\t\\n]{0,\(count)}"
    }

    private static func alphanumerics(_ count: Int) -> String {
        "[a-zA-Z0-9]{\(count)}"
    }
}
