import Foundation

/// Why a template failed to parse or render. `description` is one line.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The source is not valid Jinja (1-based line and column).
        case syntax(line: Int, column: Int)
        /// Evaluation failed the way jinja2 would raise (TypeError, UndefinedError, SecurityError...).
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
        /// A sandbox limit was hit.
        case limit(Limit)
    }

    public enum Limit: String, Sendable, Equatable {
        case outputBytes = "output size"
        case loopIterations = "loop iterations"
        case recursionDepth = "recursion depth"
        case duration = "render time"
    }

    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    static func runtime(_ message: String) -> TemplateError { TemplateError(kind: .runtime, message: message) }
    static func typeError(_ message: String) -> TemplateError { .runtime("TypeError: \(message)") }
    static func limit(_ limit: Limit, _ detail: String) -> TemplateError {
        TemplateError(kind: .limit(limit), message: detail)
    }

    public var description: String {
        switch kind {
        case .syntax(let line, let column): return "template syntax error at \(line):\(column): \(message)"
        case .runtime: return "template error: \(message)"
        case .raised: return "template raised: \(message)"
        case .limit(let limit): return "template exceeded its \(limit.rawValue) limit: \(message)"
        }
    }
}

/// Bounds on one render, so a hostile or buggy template cannot hang or exhaust memory.
public struct TemplateLimits: Sendable {
    /// Largest rendered output, and largest string or list any expression may build.
    public var maxOutputBytes: Int
    /// Total loop iterations across the whole render (also bounds `range()` sizes).
    public var maxLoopIterations: Int
    /// Nesting of macro calls and expression evaluation.
    public var maxRecursionDepth: Int
    /// Wall-clock budget in seconds.
    public var maxDuration: Double

    public init(maxOutputBytes: Int = 4 << 20, maxLoopIterations: Int = 1_000_000,
                maxRecursionDepth: Int = 200, maxDuration: Double = 5) {
        self.maxOutputBytes = maxOutputBytes
        self.maxLoopIterations = maxLoopIterations
        self.maxRecursionDepth = maxRecursionDepth
        self.maxDuration = maxDuration
    }

    public static let `default` = TemplateLimits()
}
