import Engine
import Foundation
import Grammar
import JSON
import Sampling
import Testing

/// Generation under a grammar on the real models: whatever the model would have said, the
/// output matches, greedy or sampled, and the grammar ends the answer when nothing can follow.
@Suite(.serialized) struct ConstrainedGenerationTests {
    static let schema: JSONValue = [
        "type": "object",
        "properties": [
            "name": ["type": "string", "maxLength": 24],
            "age": ["type": "integer", "minimum": 0, "maximum": 130],
            "colour": ["enum": ["red", "green", "blue"]],
        ],
        "required": ["name", "age", "colour"],
        "additionalProperties": false,
    ]

    func generate(_ model: String, _ request: String, constraint: GenerationConstraint?, sampling: SamplingParameters,
                  maxTokens: Int = 96) throws -> GenerationResult {
        let loaded = try LoadedModel(path: try testModelPath(model), threads: 2)
        let format = try loaded.chatFormat()
        let session = try loaded.makeSession(contextLength: 1024)
        let prompt = try format.tokens(for: [.user(request)], addGenerationPrompt: true)
        return try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxTokens, sampling: sampling, constraint: constraint))
    }

    func checkPerson(_ text: String) throws {
        let value = try JSONParser.parse(Array(text.utf8))
        guard case .object(let object) = value else { Issue.record("not an object: \(text)"); return }
        #expect(object.keys == ["name", "age", "colour"], "\(text)")
        if case .int(let age)? = object["age"] { #expect((0...130).contains(age)) } else { Issue.record("age: \(text)") }
        #expect(["red", "green", "blue"].map(JSONValue.string).contains(object["colour"] ?? .null), "\(text)")
        if case .string(let name)? = object["name"] { #expect(name.count <= 24) } else { Issue.record("name: \(text)") }
    }

    @Test(arguments: ["smollm2:135m", "qwen2.5-coder:0.5b"])
    func schemaHoldsGreedyAndSampled(model: String) throws {
        let constraint = GenerationConstraint(grammar: try Grammar.jsonSchema(Self.schema))
        let request = "Describe a person called Ada, aged 36, whose favourite colour is green, as JSON."
        let greedy = try generate(model, request, constraint: constraint, sampling: .greedy)
        #expect(greedy.finishReason == .stop, "\(greedy.text)")
        try checkPerson(greedy.text)
        // One entry per drawn token, the end-of-generation token included when one was drawn.
        #expect((greedy.tokens.count...greedy.tokens.count + 1).contains(greedy.constrainedSamplingSeconds.count))
        for seed: UInt64 in [1, 2, 3] {
            let sampled = try generate(model, request, constraint: constraint,
                                       sampling: SamplingParameters(temperature: 1.0, topK: 0, topP: 1, minP: 0, seed: seed))
            #expect(sampled.finishReason == .stop, "\(sampled.text)")
            try checkPerson(sampled.text)
        }
    }

    /// A lazy grammar leaves the text free until its trigger, then holds from the trigger on:
    /// qwen2.5-coder opens a code fence for any code request, and from the fence the grammar
    /// writes a fixed program and ends the answer.
    @Test func triggerSwitchesTheGrammarOn() throws {
        let grammar = try Grammar(gbnf: #"root ::= "```" "python"? "\n" "print(42)\n```""#)
        let constraint = GenerationConstraint(grammar: grammar, triggers: ["```"])
        let result = try generate("qwen2.5-coder:0.5b", "Write a Python function that reverses a string.",
                                  constraint: constraint, sampling: .greedy, maxTokens: 160)
        let text = result.text
        let fence = try #require(text.range(of: "```"), "the model never opened a code fence: \(text)")
        #expect(text[fence.lowerBound...].range(of: #"^```(python)?\nprint\(42\)\n```$"#, options: .regularExpression) != nil, "\(text)")
        #expect(result.finishReason == .stop)
        let free = try generate("qwen2.5-coder:0.5b", "Write a Python function that reverses a string.",
                                constraint: nil, sampling: .greedy, maxTokens: 160)
        #expect(free.text.hasPrefix(String(text[..<fence.lowerBound])), "before the trigger the text is the model's own")
    }
}
