import Foundation
import JSON

/// A compiled grammar: immutable, shared by many sequences.
///
/// Build one from GBNF text, a regular expression or a JSON Schema; then create a
/// `GrammarMatcher` per sequence.
public final class Grammar: Sendable {
    let program: GrammarProgram
    private let engines = EngineCache()

    init(program: GrammarProgram) throws(GrammarError) {
        guard PushdownAutomaton(program: program).initialState() != nil else {
            throw GrammarError(location: "rule '\(program.ruleNames[Int(program.root)])'", reason: "grammar is too ambiguous: more than \(GrammarLimits.maximumStacks) parser stacks at the start")
        }
        self.program = program
    }

    convenience init(rules: [GrammarRule], root: String) throws(GrammarError) {
        try self.init(program: GrammarCompiler.compile(rules, root: root))
    }

    /// Compiles llama.cpp GBNF text; `root` names the start rule.
    public convenience init(gbnf source: String, root: String = "root") throws(GrammarError) {
        try self.init(rules: GBNFParser.parse(source), root: root)
    }

    /// A grammar whose whole output must match the regular expression `pattern`
    /// (ECMA-262 subset; `^` and `$` are allowed at the ends and change nothing).
    public convenience init(regex pattern: String) throws(GrammarError) {
        let node = try RegexParser.parse(pattern, mode: .raw)
        try self.init(rules: [GrammarRule(name: "root", body: node, location: "offset 0")], root: "root")
    }

    /// A grammar for JSON text valid against `schema` (a draft 2020-12 subset; anything that
    /// cannot be enforced is an error naming the keyword's JSON path).
    public static func jsonSchema(_ schema: JSONValue) throws(GrammarError) -> Grammar {
        let builder = GBNFBuilder()
        let name = try builder.addSchema(schema, name: "root")
        return try builder.buildSchemaGrammar(root: name)
    }

    /// Any JSON object (OpenAI `json_object`, Ollama `format: "json"`), with bounded whitespace.
    public static func jsonObject() -> Grammar {
        let builder = GBNFBuilder()
        // The schema below is always accepted; a failure would be a bug in this file.
        let name = try! builder.addSchema(["type": "object"], name: "root")
        return try! builder.build(root: name)
    }

    /// Number of rules after compilation (helper rules included), for diagnostics.
    public var compiledRuleCount: Int { program.alternatives.count }

    /// Forgets the masks cached for recently seen states (the automaton stays); for benchmarks
    /// that want to time the trie walk itself.
    public func clearMaskCache() {
        engines.all().forEach { $0.clearMasks() }
    }

    func engine(for vocabulary: TokenVocabulary) -> MatcherEngine {
        engines.engine(grammar: self, vocabulary: vocabulary)
    }
}

/// The per-vocabulary engines of one grammar, so sequences sharing a grammar and a model share
/// cached automaton states and masks.
private final class EngineCache: @unchecked Sendable {
    private let lock = NSLock()
    private var engines: [(vocabulary: ObjectIdentifier, engine: MatcherEngine)] = []
    /// A grammar is normally used with one model; a few more are kept in case of several.
    private static let maximumEngines = 4

    func all() -> [MatcherEngine] {
        lock.lock()
        defer { lock.unlock() }
        return engines.map(\.engine)
    }

    func engine(grammar: Grammar, vocabulary: TokenVocabulary) -> MatcherEngine {
        lock.lock()
        defer { lock.unlock() }
        let key = ObjectIdentifier(vocabulary)
        // Engines hold their vocabulary strongly, so the identifier cannot be reused meanwhile.
        if let found = engines.first(where: { $0.vocabulary == key }) { return found.engine }
        let engine = MatcherEngine(program: grammar.program, vocabulary: vocabulary)
        if engines.count >= Self.maximumEngines { engines.removeFirst() }
        engines.append((key, engine))
        return engine
    }
}
