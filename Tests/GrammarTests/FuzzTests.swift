import Foundation
import Grammar
import JSON
import Testing

/// Random and hostile inputs: every one either compiles (and then matches without trouble) or
/// is refused with a GrammarError that has a reason. Nothing may crash or hang.
@Suite struct FuzzTests {
    /// Compiles, then pushes a few random bytes through the matcher and takes one mask.
    static func exercise(_ make: () throws(GrammarError) -> Grammar, random: inout SeededRandom) -> Bool {
        do {
            let grammar = try make()
            var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
            for _ in 0..<8 {
                let allowed = matcher.allowedTokens().filter { $0 != byteEndToken }
                guard let token = allowed.randomElement(using: &random) else { break }
                check(matcher.accept(token))
            }
            return true
        } catch {
            #expect(!error.reason.isEmpty)
            #expect(!error.location.isEmpty)
            return false
        }
    }

    static func randomSchema(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        let pick = random.next() % 24
        if depth > 4 && pick < 18 { return ["type": "string"] }
        func sub() -> JSONValue { randomSchema(&random, depth: depth + 1) }
        func number() -> JSONValue {
            switch random.next() % 6 {
            case 0: .int(Int(bitPattern: UInt(random.next())))
            case 1: .double(Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF))
            case 2: .double(-1e300)
            case 3: .string("5")
            default: .int(Int(random.next() % 200) - 100)
            }
        }
        switch pick {
        case 0: return .bool(random.next() % 3 != 0)
        case 1: return ["type": "object", "properties": ["a": sub(), "b": sub()], "required": random.next() % 2 == 0 ? ["a"] : ["b", "c"], "additionalProperties": random.next() % 2 == 0 ? sub() : false]
        case 2: return ["type": "array", "items": sub(), "minItems": number(), "maxItems": number()]
        case 3: return ["type": "integer", "minimum": number(), "maximum": number(), "multipleOf": random.next() % 2 == 0 ? number() : 3]
        case 4: return ["type": "number", "exclusiveMinimum": number(), "exclusiveMaximum": number()]
        case 5: return ["type": "string", "minLength": number(), "maxLength": number()]
        case 6: return ["type": "string", "pattern": .string(randomRegex(&random))]
        case 7: return ["anyOf": [sub(), sub()]]
        case 8: return ["allOf": [sub(), sub()]]
        case 9: return ["oneOf": [sub(), .int(3)]]
        case 10: return ["$ref": "#"]
        case 11: return ["$defs": ["x": ["$ref": "#/$defs/y"], "y": random.next() % 2 == 0 ? ["$ref": "#/$defs/x"] : sub()], "$ref": "#/$defs/x"]
        case 12: return ["enum": .array((0..<[0, 3, 200, 5_000].randomElement(using: &random)!).map { .int($0) })]
        case 13: return ["type": .string(["strin", "object", "null", "integer"].randomElement(using: &random)!)]
        case 14: return ["type": ["string", "null", "array"], "nullable": true, "items": sub()]
        case 15: return ["prefixItems": [sub(), sub()], "items": random.next() % 2 == 0 ? false : sub(), "type": "array"]
        case 16: return ["format": .string(["date", "uuid", "email", "ipv6", "date-time"].randomElement(using: &random)!)]
        case 17: return ["type": "object", "properties": ["next": ["$ref": "#"]], "required": random.next() % 2 == 0 ? ["next"] : []]
        case 18: return ["not": sub()]
        case 19: return ["const": random.next() % 2 == 0 ? sub() : .string("x\u{0}\"\\é")]
        case 20: return .array([sub()])
        case 21: return ["type": "object", "properties": .object(JSONObject((0..<Int(random.next() % 40)).map { ("p\($0)\u{1}\"", sub()) }))]
        case 22:
            var deep: JSONValue = ["type": "integer"]
            for _ in 0..<Int(random.next() % 200) { deep = ["type": "array", "items": deep] }
            return deep
        default: return ["allOf": [["$ref": "#"], ["type": "object"]]]
        }
    }

    static func randomRegex(_ random: inout SeededRandom) -> String {
        let atoms = ["a", "b", "\\d", "\\w", ".", "[a-z]", "[^x]", "(", ")", "|", "*", "+", "?", "{2}", "{1,3}", "{,", "^", "$", "\\", "(?:", "(?=", "[", "]",
                     "\\1", "é", "\"", "\\u00e9", "{99999}", "(?<n>", "\\b", "-", "\\s"]
        return (0..<Int(random.next() % 12)).map { _ in atoms.randomElement(using: &random)! }.joined()
    }

    @Test func hostileSchemas() {
        var random = SeededRandom(seed: 1)
        var accepted = 0
        for _ in 0..<1_000 {
            let schema = Self.randomSchema(&random, depth: 0)
            if Self.exercise({ () throws(GrammarError) in try Grammar.jsonSchema(schema) }, random: &random) { accepted += 1 }
        }
        #expect(accepted > 50, "some random schemas are valid")
    }

    @Test func hostileGBNF() {
        var random = SeededRandom(seed: 2)
        let seeds = [GBNFParserTests.arithmetic, GBNFParserTests.json, GBNFParserTests.list, "root ::= [a-z]+ (\",\" root)?"]
        var accepted = 0
        for iteration in 0..<1_000 {
            var source: String
            switch iteration % 5 {
            case 0:
                source = String(decoding: (0..<Int(random.next() % 80)).map { _ in UInt8(random.next() % 256) }, as: UTF8.self)
            case 1, 2:
                var scalars = Array(seeds.randomElement(using: &random)!.unicodeScalars)
                for _ in 0..<Int(random.next() % 4) + 1 where !scalars.isEmpty {
                    let position = Int(random.next() % UInt64(scalars.count))
                    let noise: [Unicode.Scalar] = ["(", ")", "\"", "[", "]", "|", "*", "{", "}", "\\", "\n", "x", "root", ":"].flatMap { $0.unicodeScalars }
                    switch random.next() % 3 {
                    case 0: scalars.remove(at: position)
                    case 1: scalars.insert(noise.randomElement(using: &random)!, at: position)
                    default: scalars[position] = noise.randomElement(using: &random)!
                    }
                }
                source = String(String.UnicodeScalarView(scalars))
            case 3:
                source = ["root ::= a\na ::= b\nb ::= a \"x\"", "root ::= (root)", "root ::= \"a\"{10000}{10000}",
                          "root ::= " + String(repeating: "(", count: 5_000), "root ::= x\nx ::= x? \"a\"",
                          "root ::= " + String(repeating: "\"a\" | ", count: 3_000) + "\"b\""].randomElement(using: &random)!
            default:
                let depth = Int(random.next() % 150)
                source = "root ::= " + String(repeating: "(\"a\" ", count: depth) + String(repeating: ")*", count: depth)
            }
            if Self.exercise({ () throws(GrammarError) in try Grammar(gbnf: source) }, random: &random) { accepted += 1 }
        }
        #expect(accepted > 50)
    }

    @Test func hostileRegexes() {
        var random = SeededRandom(seed: 3)
        var accepted = 0
        for _ in 0..<1_000 {
            let pattern = Self.randomRegex(&random)
            if Self.exercise({ () throws(GrammarError) in try Grammar(regex: pattern) }, random: &random) { accepted += 1 }
        }
        #expect(accepted > 50)
    }
}

/// The deepest inputs each parser accepts must fit a 512 KiB stack (a secondary thread's size).
@Suite struct StackDepthTests {
    static func onSmallStack(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        done.wait()
    }

    @Test func deepSchemaFitsSmallStack() {
        Self.onSmallStack {
            var schema: JSONValue = ["type": "integer"]
            for index in 0..<200 {
                schema = index % 2 == 0 ? ["type": "array", "items": schema] : ["anyOf": [["type": "object", "properties": ["a": schema]], ["type": "null"]]]
            }
            _ = try? Grammar.jsonSchema(schema)
        }
    }

    @Test func selfMergingSchemaFitsSmallStack() {
        Self.onSmallStack { _ = try? Grammar.jsonSchema(["oneOf": [["allOf": [["$ref": "#"], ["type": "object"]]], 3]]) }
    }

    @Test func deepGBNFFitsSmallStack() {
        Self.onSmallStack { _ = try? Grammar(gbnf: "root ::= " + String(repeating: "(", count: 99) + "\"a\"" + String(repeating: ")", count: 99)) }
    }

    @Test func deepRegexFitsSmallStack() {
        Self.onSmallStack { _ = try? Grammar(regex: String(repeating: "(", count: 99) + "a" + String(repeating: ")*", count: 99)) }
    }
}
