import Foundation

/// Variable scope. jinja2 gives each for-loop iteration, macro call and caller block its own
/// scope; `if` does not create one. Assignments always write the innermost scope, which is why
/// templates carry state out of loops with `namespace()`.
final class Scope {
    var variables: [String: Value]
    let parent: Scope?

    init(parent: Scope?, variables: [String: Value] = [:]) {
        self.parent = parent
        self.variables = variables
    }

    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

enum Flow { case normal, breakLoop, continueLoop }

/// Walks the parsed template. One interpreter per render; it enforces the limits.
final class Interpreter {
    let limits: TemplateLimits
    let now: Date
    private let deadline: DispatchTime
    private var steps = 0
    private var loopIterations = 0
    private var callDepth = 0
    private var expressionDepth = 0

    init(limits: TemplateLimits, now: Date) {
        self.limits = limits
        self.now = now
        let nanos = max(0, min(limits.maxDuration, 1e6)) * 1e9
        deadline = DispatchTime(uptimeNanoseconds: DispatchTime.now().uptimeNanoseconds + UInt64(nanos))
    }

    func render(_ body: [Statement], variables: [String: TemplateValue]) throws -> String {
        let globals = Scope(parent: nil, variables: Globals.make())
        let top = Scope(parent: globals, variables: variables.mapValues(Value.init))
        var out = ""
        _ = try execute(body, top, into: &out)
        return out
    }

    // MARK: limits

    /// Called on every statement and expression node: bounds wall time.
    @inline(__always) func tick() throws {
        steps &+= 1
        if steps & 255 == 0, DispatchTime.now() > deadline {
            throw TemplateError.limit(.duration, "rendering took longer than \(limits.maxDuration)s")
        }
    }

    func countIteration() throws {
        loopIterations += 1
        if loopIterations > limits.maxLoopIterations {
            throw TemplateError.limit(.loopIterations, "more than \(limits.maxLoopIterations) loop iterations")
        }
    }

    /// Guards any string or list an expression builds, before it is built.
    func checkSize(_ count: Int, _ what: String = "value") throws {
        if count > limits.maxOutputBytes || count < 0 {
            throw TemplateError.limit(.outputBytes, "\(what) would exceed \(limits.maxOutputBytes) bytes")
        }
    }

    func enterCall() throws {
        callDepth += 1
        if callDepth > limits.maxRecursionDepth {
            throw TemplateError.limit(.recursionDepth, "macro calls nested deeper than \(limits.maxRecursionDepth)")
        }
    }

    func leaveCall() { callDepth -= 1 }

    /// Long operator chains (`a ~ b ~ ...`) parse into deep trees without parser recursion;
    /// this bounds the evaluator's recursion (macro bodies included) so the stack cannot overflow.
    @inline(__always) func enterExpression() throws {
        expressionDepth += 1
        if expressionDepth > 4000 {
            throw TemplateError.limit(.recursionDepth, "expression nesting deeper than 4000")
        }
    }

    @inline(__always) func leaveExpression() { expressionDepth -= 1 }

    private func write(_ text: String, _ out: inout String) throws {
        out += text
        if out.utf8.count > limits.maxOutputBytes {
            throw TemplateError.limit(.outputBytes, "output exceeds \(limits.maxOutputBytes) bytes")
        }
    }

    // MARK: statements

    func execute(_ statements: [Statement], _ scope: Scope, into out: inout String) throws -> Flow {
        for statement in statements {
            try tick()
            switch statement {
            case .output(let text):
                try write(text, &out)
            case .expression(let expr):
                try write(PythonFormat.str(try evaluate(expr, scope)), &out)
            case .ifChain(let branches, let otherwise):
                var taken = false
                for (test, body) in branches where try evaluate(test, scope).truthy {
                    taken = true
                    let flow = try execute(body, scope, into: &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(otherwise, scope, into: &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let target, let iterable, let filter, let body, let otherwise, _):
                try executeFor(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, scope, &out)
            case .set(let target, let expr):
                try assign(target, try evaluate(expr, scope), scope)
            case .setBlock(let target, let filters, let body):
                var captured = ""
                _ = try execute(body, Scope(parent: scope), into: &captured)
                var value = Value.string(captured)
                for filter in filters { value = try applyFilter(filter.name, value, filter.arguments, scope) }
                try assign(target, value, scope)
            case .macro(let definition):
                scope.variables[definition.name] = makeMacro(definition, scope)
            case .callBlock(let call, let parameters, let body):
                let caller = makeMacro(MacroDefinition(name: "caller", parameters: parameters, body: body), scope)
                guard case .call(let callee, let arguments) = call else { break }
                let function = try evaluate(callee, scope)
                var args = try evaluateArguments(arguments, scope)
                args.keywords.append(("caller", caller))
                try write(PythonFormat.str(try invoke(function, args)), &out)
            case .filterBlock(let filters, let body):
                var captured = ""
                _ = try execute(body, Scope(parent: scope), into: &captured)
                var value = Value.string(captured)
                for filter in filters { value = try applyFilter(filter.name, value, filter.arguments, scope) }
                try write(PythonFormat.str(value), &out)
            case .generation(let body):
                var captured = ""
                _ = try execute(body, Scope(parent: scope), into: &captured)
                try write(captured, &out)
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
        }
        return .normal
    }

    private func executeFor(target: AssignTarget, iterable: Expr, filter: Expr?, body: [Statement], otherwise: [Statement],
                            _ scope: Scope, _ out: inout String) throws {
        var items = try iterate(try evaluate(iterable, scope))
        if let filter {
            var kept: [Value] = []
            for item in items {
                try countIteration()
                let filterScope = Scope(parent: scope)
                try assign(target, item, filterScope)
                if try evaluate(filter, filterScope).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(otherwise, scope, into: &out)
            return
        }
        let length = items.count
        for (index, item) in items.enumerated() {
            try countIteration()
            let iterationScope = Scope(parent: scope)
            var loop = Dict()
            loop["index"] = .int(index + 1)
            loop["index0"] = .int(index)
            loop["revindex"] = .int(length - index)
            loop["revindex0"] = .int(length - index - 1)
            loop["first"] = .bool(index == 0)
            loop["last"] = .bool(index == length - 1)
            loop["length"] = .int(length)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            if index > 0 { loop["previtem"] = items[index - 1] }
            if index + 1 < length { loop["nextitem"] = items[index + 1] }
            loop["cycle"] = .callable(Callable(name: "cycle", kind: .method) { _, args in
                guard !args.positional.isEmpty else { throw TemplateError.typeError("no items for cycling given") }
                return args.positional[index % args.positional.count]
            })
            iterationScope.variables["loop"] = .object(loop)
            try assign(target, item, iterationScope)
            let flow = try execute(body, iterationScope, into: &out)
            if flow == .breakLoop { break }
        }
    }

    /// Python iteration: lists, dict keys, string characters; undefined iterates as empty.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .array(let a), .tuple(let a), .generator(let a): return a
        case .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .object(let o): return o.keys.map { $0.value }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined(let u): if u.isUnsafe { throw u.fail() } else { return [] }
        default: throw TemplateError.typeError("'\(value.typeName)' object is not iterable")
        }
    }

    func assign(_ target: AssignTarget, _ value: Value, _ scope: Scope) throws {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw TemplateError.runtime("ValueError: cannot unpack \(items.count) values into \(targets.count) targets")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let ns) = scope.lookup(name) ?? .missing else {
                throw TemplateError.runtime("TemplateRuntimeError: cannot assign attribute on non-namespace object")
            }
            try checkNesting(value)
            ns.attributes[attribute] = value
        }
    }

    /// Namespace attributes are the only values that persist across loop iterations, so they
    /// are the only way to build unboundedly nested data; deep nesting would overflow the stack
    /// when printed, compared or freed. Python raises RecursionError near 1000 levels anyway.
    private func checkNesting(_ value: Value) throws {
        func walk(_ v: Value, _ depth: Int) throws {
            guard depth < 256 else {
                throw TemplateError.limit(.recursionDepth, "value nested deeper than 256 levels")
            }
            switch v {
            case .array(let items), .tuple(let items), .generator(let items):
                for item in items {
                    try tick()
                    try walk(item, depth + 1)
                }
            case .object(let o):
                for item in o.values {
                    try tick()
                    try walk(item, depth + 1)
                }
            case .namespace(let ns):
                for item in ns.attributes.values { try walk(item, depth + 1) }
            default: break
            }
        }
        try walk(value, 0)
    }

    // MARK: macros and calls

    func makeMacro(_ definition: MacroDefinition, _ definingScope: Scope) -> Value {
        .callable(Callable(name: definition.name, kind: .macro) { interpreter, args in
            try interpreter.callMacro(definition, definingScope, args)
        })
    }

    private func callMacro(_ definition: MacroDefinition, _ definingScope: Scope, _ args: Arguments) throws -> Value {
        try enterCall()
        defer { leaveCall() }
        let scope = Scope(parent: definingScope)
        var extraPositional: [Value] = []
        for (i, value) in args.positional.enumerated() {
            if i < definition.parameters.count {
                scope.variables[definition.parameters[i].0] = value
            } else {
                extraPositional.append(value)
            }
        }
        var extraKeywords = Dict()
        for (key, value) in args.keywords {
            if key == "caller" {
                scope.variables["caller"] = value
            } else if let index = definition.parameters.firstIndex(where: { $0.0 == key }) {
                if index < args.positional.count {
                    throw TemplateError.typeError("macro '\(definition.name)' got multiple values for argument '\(key)'")
                }
                scope.variables[key] = value
            } else {
                extraKeywords[key] = value
            }
        }
        for (name, defaultValue) in definition.parameters where scope.variables[name] == nil {
            scope.variables[name] = try defaultValue.map { try evaluate($0, scope) } ?? .undefined(Undefined("parameter '\(name)' was not provided"))
        }
        scope.variables["varargs"] = .tuple(extraPositional)
        scope.variables["kwargs"] = .object(extraKeywords)
        var out = ""
        _ = try execute(definition.body, scope, into: &out)
        return .string(out)
    }

    func invoke(_ function: Value, _ args: Arguments) throws -> Value {
        switch function {
        case .callable(let c):
            if c.kind == .macro { return try c.body(self, args) }
            return try c.body(self, Arguments(positional: args.positional.map(\.plain), keywords: args.keywords.map { ($0.0, $0.1.plain) }))
        case .undefined(let u): throw u.fail()
        default: throw TemplateError.typeError("'\(function.typeName)' object is not callable")
        }
    }

    func evaluateArguments(_ arguments: [Argument], _ scope: Scope) throws -> Arguments {
        var args = Arguments()
        for argument in arguments {
            switch argument {
            case .positional(let e): args.positional.append(try evaluate(e, scope))
            case .keyword(let k, let e): args.keywords.append((k, try evaluate(e, scope)))
            case .splat(let e): args.positional.append(contentsOf: try iterate(try evaluate(e, scope)))
            case .keywordSplat(let e):
                guard case .object(let o) = try evaluate(e, scope) else { throw TemplateError.typeError("argument after ** must be a mapping") }
                args.keywords.append(contentsOf: o.stringPairs)
            }
        }
        return args
    }

    func applyFilter(_ name: String, _ value: Value, _ arguments: [Argument], _ scope: Scope) throws -> Value {
        guard let filter = Filters.lookup(name) else {
            throw TemplateError.runtime("TemplateRuntimeError: No filter named '\(name)' found.")
        }
        if name == "safe" || name == "escape" || name == "e" { return try filter(self, value, try evaluateArguments(arguments, scope)) }
        return try filter(self, value.plain, try evaluateArguments(arguments, scope))
    }
}
