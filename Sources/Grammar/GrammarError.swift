/// Why a grammar, regular expression or JSON Schema cannot be compiled.
///
/// `location` says where: a JSON path for schemas (`$.properties.age.multipleOf`),
/// `line L, column C` for GBNF, `offset N` for regular expressions.
public struct GrammarError: Error, CustomStringConvertible, Sendable, Equatable {
    public let location: String
    public let reason: String

    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}

/// Every bound the compiler enforces, in one place so the reasons are easy to review.
enum GrammarLimits {
    /// GBNF sources are written by people or generated from schemas; 1 MiB is far beyond either
    /// and keeps parsing time and memory trivially bounded for hostile input.
    static let maximumSourceBytes = 1 << 20
    /// Each rule costs a name lookup and a slot in the automaton; 20,000 covers generated
    /// grammars for large tool sets while refusing absurd inputs.
    static let maximumRules = 20_000
    /// A repetition `x{m,n}` expands into up to n copies (one rule per count); larger bounds
    /// cost memory linearly and no model output needs them.
    static let maximumRepetition = 10_000
    /// Compiled size (grammar symbols after expanding repetitions and UTF-8 classes): 2M symbols
    /// is about 8 MB, the most one grammar may take.
    static let maximumSymbols = 2_000_000
    /// Parentheses nesting in GBNF and regular expressions: the parsers recurse once per level,
    /// and 100 levels stay far inside a 512 KiB thread stack.
    static let maximumNesting = 100
    /// Distinct parser stacks alive at once. Ambiguous grammars can multiply stacks; past this
    /// the byte that would create them is refused, deterministically, instead of slowing down.
    /// Large enough for the largest enum (each value starts as one stack).
    static let maximumStacks = 8_192
    /// Depth of one parser stack (nested rule calls still open). Deeper recursion, e.g.
    /// 1,000 unclosed brackets, is refused so a state never grows without bound.
    static let maximumStackDepth = 1_000
    /// JSON Schema nesting depth (objects within objects); the converter recurses per level.
    static let maximumSchemaDepth = 64
    /// Schema nodes visited in total, so a huge schema is refused before its grammar is.
    static let maximumSchemaNodes = 50_000
    /// Values in one `enum`; each becomes an alternative.
    static let maximumEnumValues = 4_096
    /// Characters in a regular expression.
    static let maximumRegexLength = 10_000
}
