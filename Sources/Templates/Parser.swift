import Foundation

/// Recursive-descent parser following jinja2's grammar and operator precedence.
struct Parser {
    private let tokens: [Token]
    private let lexer: Lexer
    private var index = 0
    private var depth = 0
    private var loopDepth = 0
    /// jinja2 rejects an unknown filter or test at compile time, except inside `if` bodies and
    /// conditional expressions ("soft" frames), where it only fails if evaluated.
    private var softFrames: [Bool] = [false]

    static let maxNesting = 500

    init(source: String) throws {
        var lexer = Lexer(source)
        tokens = try lexer.tokenize()
        self.lexer = lexer
    }

    mutating func parseTemplate() throws -> [Statement] {
        let (body, end) = try parseBody(until: [])
        if let end { throw error("Encountered unknown tag '\(end)'.") }
        return body
    }

    // MARK: tokens

    private var current: Token { tokens[index] }
    private var next: Token { tokens[min(index + 1, tokens.count - 1)] }

    private func error(_ message: String, at token: Token? = nil) -> TemplateError {
        lexer.syntaxError(message, at: (token ?? current).offset)
    }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { advance(); return true }
        return false
    }

    private mutating func skipName(_ name: String) -> Bool {
        if isName(name) { advance(); return true }
        return false
    }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw error("expected '\(op)'") }
    }

    private mutating func expectName(_ name: String) throws {
        guard skipName(name) else { throw error("expected '\(name)'") }
    }

    private mutating func expectIdentifier() throws -> String {
        guard case .name(let n) = current.kind else { throw error("expected a name") }
        advance()
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw error("expected end of statement block") }
        advance()
    }

    private mutating func nest() throws {
        depth += 1
        if depth > Parser.maxNesting { throw error("template nesting is too deep") }
    }

    // MARK: statements

    /// Parses until a block tag whose name is in `until`; leaves the index on that name.
    private mutating func parseBody(until: Set<String>) throws -> ([Statement], String?) {
        try nest()
        defer { depth -= 1 }
        var body: [Statement] = []
        while true {
            switch current.kind {
            case .eof:
                if !until.isEmpty { throw error("unexpected end of template, expected one of \(until.sorted())") }
                return (body, nil)
            case .data(let text):
                body.append(.output(text))
                advance()
            case .variableBegin:
                advance()
                let expr = try parseTuple()
                guard current.kind == .variableEnd else { throw error("expected end of print statement") }
                advance()
                body.append(.expression(expr))
            case .blockBegin:
                advance()
                guard case .name(let tag) = current.kind else { throw error("tag name expected") }
                if until.contains(tag) { return (body, tag) }
                body.append(try parseStatement(tag))
            default:
                throw error("unexpected token")
            }
        }
    }

    private mutating func parseStatements(until: Set<String>, dropNeedle: Bool = false) throws -> ([Statement], String) {
        try expectBlockEnd()
        let (body, end) = try parseBody(until: until)
        guard let end else { throw error("unexpected end of template") }
        if dropNeedle {
            advance()
            try expectBlockEnd()
        }
        return (body, end)
    }

    private mutating func parseStatement(_ tag: String) throws -> Statement {
        let tagToken = current
        advance()
        switch tag {
        case "if": return try parseIf()
        case "for": return try parseFor()
        case "set": return try parseSet()
        case "macro": return try parseMacro()
        case "call": return try parseCallBlock()
        case "filter":
            softFrames.append(false)
            defer { softFrames.removeLast() }
            let filters = try parseFilterChain()
            let (body, _) = try parseStatements(until: ["endfilter"], dropNeedle: true)
            return .filterBlock(filters, body: body)
        case "generation":
            softFrames.append(false)
            defer { softFrames.removeLast() }
            let (body, _) = try parseStatements(until: ["endgeneration"], dropNeedle: true)
            return .generation(body)
        case "break", "continue":
            guard loopDepth > 0 else { throw error("'\(tag)' outside of a loop", at: tagToken) }
            try expectBlockEnd()
            return tag == "break" ? .breakLoop : .continueLoop
        default:
            throw error("Encountered unknown tag '\(tag)'.", at: tagToken)
        }
    }

    private mutating func parseIf() throws -> Statement {
        softFrames.append(true)
        defer { softFrames.removeLast() }
        var branches: [(Expr, [Statement])] = []
        var test = try parseTuple(withConditional: false)
        while true {
            let (body, end) = try parseStatements(until: ["elif", "else", "endif"])
            branches.append((test, body))
            advance()
            switch end {
            case "elif":
                test = try parseTuple(withConditional: false)
            case "else":
                let (otherwise, _) = try parseStatements(until: ["endif"], dropNeedle: true)
                return .ifChain(branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .ifChain(branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor() throws -> Statement {
        let target = try parseAssignTarget(allowNamespace: false)
        try expectName("in")
        let iterable = try parseTuple(withConditional: false, extraEnd: ["recursive"])
        softFrames.append(false)
        defer { softFrames.removeLast() }
        var filter: Expr? = nil
        if skipName("if") { filter = try parseExpression() }
        let recursive = skipName("recursive")
        loopDepth += 1
        let (body, end) = try parseStatements(until: ["endfor", "else"])
        loopDepth -= 1
        advance()
        var otherwise: [Statement] = []
        if end == "else" {
            (otherwise, _) = try parseStatements(until: ["endfor"], dropNeedle: true)
        } else {
            try expectBlockEnd()
        }
        return .forLoop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, recursive: recursive)
    }

    private mutating func parseSet() throws -> Statement {
        let target = try parseAssignTarget(allowNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value)
        }
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let filters = skipOp("|") ? try parseFilterChain() : []
        let (body, _) = try parseStatements(until: ["endset"], dropNeedle: true)
        return .setBlock(target, filters: filters, body: body)
    }

    private mutating func parseSignature() throws -> [(String, Expr?)] {
        var parameters: [(String, Expr?)] = []
        try expectOp("(")
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectIdentifier()
            parameters.append((name, skipOp("=") ? try parseExpression() : nil))
        }
        try expectOp(")")
        return parameters
    }

    private mutating func parseMacro() throws -> Statement {
        let name = try expectIdentifier()
        let savedLoopDepth = loopDepth
        loopDepth = 0
        softFrames.append(false)
        defer {
            loopDepth = savedLoopDepth
            softFrames.removeLast()
        }
        let parameters = try parseSignature()
        let (body, _) = try parseStatements(until: ["endmacro"], dropNeedle: true)
        return .macro(MacroDefinition(name: name, parameters: parameters, body: body))
    }

    private mutating func parseCallBlock() throws -> Statement {
        let parameters = isOp("(") ? try parseSignature() : []
        let call = try parseExpression()
        guard case .call = call else { throw error("expected call") }
        softFrames.append(false)
        defer { softFrames.removeLast() }
        let (body, _) = try parseStatements(until: ["endcall"], dropNeedle: true)
        return .callBlock(call: call, parameters: parameters, body: body)
    }

    private mutating func parseFilterChain() throws -> [FilterCall] {
        var filters: [FilterCall] = []
        repeat {
            let (name, arguments) = try parseFilterNameAndArguments()
            filters.append(FilterCall(name: name, arguments: arguments))
        } while skipOp("|")
        return filters
    }

    private mutating func parseAssignTarget(allowNamespace: Bool) throws -> AssignTarget {
        if allowNamespace, case .name(let ns) = current.kind, next.kind == .op(".") {
            advance()
            advance()
            return .namespaceAttribute(ns, try expectIdentifier())
        }
        var targets: [AssignTarget] = []
        var isTuple = false
        let parenthesized = skipOp("(")
        while true {
            if !targets.isEmpty {
                guard skipOp(",") else { break }
                if isName("in") || isOp("=") || isOp(")") || current.kind == .blockEnd { break }
            }
            if isOp("(") {
                targets.append(try parseAssignTarget(allowNamespace: false))
            } else {
                let name = try expectIdentifier()
                if ["true", "false", "none", "True", "False", "None"].contains(name) {
                    throw error("can't assign to '\(name)'")
                }
                targets.append(.name(name))
            }
            if isOp(",") { isTuple = true } else { break }
        }
        if parenthesized { try expectOp(")") }
        return isTuple || parenthesized && targets.count != 1 ? .tuple(targets) : targets[0]
    }

    // MARK: expressions

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(")"), .eof: return true
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    mutating func parseTuple(withConditional: Bool = true, extraEnd: Set<String> = [], explicitParentheses: Bool = false) throws -> Expr {
        var items: [Expr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEnd) { break }
            items.append(withConditional ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParentheses { throw error("Expected an expression") }
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        try nest()
        defer { depth -= 1 }
        var expr = try parseOr()
        while skipName("if") {
            softFrames.append(true)
            defer { softFrames.removeLast() }
            let test = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expr = .conditional(test: test, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        var chain = 0
        defer { depth -= chain }
        while skipName("or") { try nest(); chain += 1; left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        var chain = 0
        defer { depth -= chain }
        while skipName("and") { try nest(); chain += 1; left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if skipName("not") {
            try nest()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let left = try parseMath1()
        var operations: [(CompareOperator, Expr)] = []
        while true {
            if case .op(let o) = current.kind, let op = CompareOperator(rawValue: o), op != .inside, op != .notInside {
                advance()
                operations.append((op, try parseMath1()))
            } else if skipName("in") {
                operations.append((.inside, try parseMath1()))
            } else if isName("not"), next.kind == .name("in") {
                advance()
                advance()
                operations.append((.notInside, try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? left : .compare(left, operations)
    }

    private mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        var chain = 0
        defer { depth -= chain }
        while isOp("+") || isOp("-") {
            try nest()
            chain += 1
            let op: BinaryOperator = isOp("+") ? .add : .subtract
            advance()
            left = .binary(op, left, try parseConcat())
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        var left = try parseMath2()
        var chain = 0
        defer { depth -= chain }
        while skipOp("~") { try nest(); chain += 1; left = .binary(.concat, left, try parseMath2()) }
        return left
    }

    private mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        var chain = 0
        defer { depth -= chain }
        while true {
            guard case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) else { break }
            try nest()
            chain += 1
            advance()
            left = .binary(BinaryOperator(rawValue: o)!, left, try parsePow())
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        var left = try parseUnary()
        var chain = 0
        defer { depth -= chain }
        while skipOp("**") { try nest(); chain += 1; left = .binary(.power, left, try parseUnary()) }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try nest()
        defer { depth -= 1 }
        var node: Expr
        if skipOp("-") {
            node = .negate(try parseUnary(withFilter: false))
        } else if skipOp("+") {
            node = .plus(try parseUnary(withFilter: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return .constant(.bool(true))
            case "false", "False": return .constant(.bool(false))
            case "none", "None": return .constant(.none)
            default: return .name(n)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind {
                s += more
                advance()
            }
            return .constant(.string(s))
        case .integer(let i):
            advance()
            return .constant(.int(i))
        case .float(let d):
            advance()
            return .constant(.double(d))
        case .op("("):
            advance()
            let expr = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return expr
        case .op("["):
            advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            try expectOp("}")
            return .dict(pairs)
        default:
            throw error("unexpected token")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        var chain = 0
        defer { depth -= chain }
        while true {
            try nest()
            chain += 1
            if skipOp(".") {
                switch current.kind {
                case .name(let n):
                    advance()
                    node = .attribute(node, n)
                case .integer(let i):
                    advance()
                    node = .item(node, .constant(.int(i)))
                default:
                    throw error("expected name or number after '.'")
                }
            } else if skipOp("[") {
                var items: [Expr] = []
                while !isOp("]") {
                    if !items.isEmpty { try expectOp(",") }
                    if isOp("]") { break }
                    items.append(try parseSubscribed(node))
                }
                try expectOp("]")
                guard let first = items.first else { throw error("expected subscript expression") }
                if items.count == 1 {
                    if case .slice = first { node = first } else { node = .item(node, first) }
                } else {
                    node = .item(node, .tuple(items))
                }
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscribed(_ target: Expr) throws -> Expr {
        var start: Expr? = nil
        if !isOp(":") {
            let expr = try parseExpression()
            if !isOp(":") { return expr }
            start = expr
        }
        advance()
        var stop: Expr? = nil
        var step: Expr? = nil
        if !isOp(":") && !isOp("]") && !isOp(",") { stop = try parseExpression() }
        if skipOp(":") {
            if !isOp("]") && !isOp(",") { step = try parseExpression() }
        }
        return .slice(target, start: start, stop: stop, step: step)
    }

    private mutating func parseCallArguments() throws -> [Argument] {
        try expectOp("(")
        var arguments: [Argument] = []
        var sawKeyword = false
        while !isOp(")") {
            if !arguments.isEmpty {
                try expectOp(",")
                if isOp(")") { break }
            }
            if skipOp("*") {
                arguments.append(.splat(try parseExpression()))
            } else if skipOp("**") {
                arguments.append(.keywordSplat(try parseExpression()))
            } else if case .name(let key) = current.kind, next.kind == .op("=") {
                advance()
                advance()
                arguments.append(.keyword(key, try parseExpression()))
                sawKeyword = true
            } else {
                if sawKeyword { throw error("positional argument follows keyword argument") }
                arguments.append(.positional(try parseExpression()))
            }
        }
        try expectOp(")")
        return arguments
    }

    private mutating func parseFilterNameAndArguments() throws -> (String, [Argument]) {
        let nameToken = current
        var name = try expectIdentifier()
        while isOp("."), case .name = next.kind {
            advance()
            name += "." + (try expectIdentifier())
        }
        if Filters.lookup(name) == nil && !softFrames.last! {
            throw error("No filter named '\(name)'.", at: nameToken)
        }
        return (name, isOp("(") ? try parseCallArguments() : [])
    }

    private mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var node = start
        var chain = 0
        defer { depth -= chain }
        while true {
            try nest()
            chain += 1
            if skipOp("|") {
                let (name, arguments) = try parseFilterNameAndArguments()
                node = .filter(node, name: name, arguments: arguments)
            } else if isName("is") {
                advance()
                let negated = skipName("not")
                let nameToken = current
                var name = try expectIdentifier()
                while isOp("."), case .name = next.kind {
                    advance()
                    name += "." + (try expectIdentifier())
                }
                if JinjaTests.lookup(name) == nil && !softFrames.last! {
                    throw error("No test named '\(name)'.", at: nameToken)
                }
                var arguments: [Argument] = []
                if isOp("(") {
                    arguments = try parseCallArguments()
                } else if startsBareTestArgument {
                    if isName("is") { throw error("You cannot chain multiple tests with is") }
                    arguments = [.positional(try parsePostfix(try parsePrimary()))]
                }
                node = .test(node, name: name, arguments: arguments, negated: negated)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    /// `x is divisibleby 3`: a test may take one argument without parentheses.
    private var startsBareTestArgument: Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }
}
