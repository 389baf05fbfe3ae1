import Foundation

/// Parsed template. Constants are TemplateValues so a parsed template is Sendable and can be
/// rendered concurrently.
indirect enum Expr: Sendable {
    case constant(TemplateValue)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String)
    case item(Expr, Expr)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, [Argument])
    case filter(Expr, name: String, arguments: [Argument])
    case test(Expr, name: String, arguments: [Argument], negated: Bool)
    case not(Expr)
    case negate(Expr)
    case plus(Expr)
    case binary(BinaryOperator, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(Expr, [(CompareOperator, Expr)])
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
}

enum CompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case inside = "in", notInside = "not in"
}

enum Argument: Sendable {
    case positional(Expr)
    case keyword(String, Expr)
    case splat(Expr)
    case keywordSplat(Expr)
}

indirect enum AssignTarget: Sendable {
    case name(String)
    case tuple([AssignTarget])
    case namespaceAttribute(String, String)
}

struct FilterCall: Sendable {
    let name: String
    let arguments: [Argument]
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Statement]
}

indirect enum Statement: Sendable {
    case output(String)
    case expression(Expr)
    case ifChain([(Expr, [Statement])], otherwise: [Statement])
    case forLoop(target: AssignTarget, iterable: Expr, filter: Expr?, body: [Statement], otherwise: [Statement], recursive: Bool)
    case set(AssignTarget, Expr)
    case setBlock(AssignTarget, filters: [FilterCall], body: [Statement])
    case macro(MacroDefinition)
    case callBlock(call: Expr, parameters: [(String, Expr?)], body: [Statement])
    case filterBlock([FilterCall], body: [Statement])
    /// transformers' `{% generation %}`: renders its body as a caller block (own scope).
    case generation([Statement])
    case breakLoop
    case continueLoop
}
