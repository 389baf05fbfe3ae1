import Engine
import Foundation
import Testing
@testable import Server

@Suite struct AnswerCheckTests {
    func answer(_ text: String, finish: FinishReason = .stop) -> GenerationResult {
        var result = GenerationResult()
        result.text = text
        result.finishReason = finish
        return result
    }

    @Test func completeFailsOnlyAnAnswerCutAtTheLimit() async {
        #expect(await AnswerCheck.complete.failure(of: answer("Paris.")) == nil)
        #expect(await AnswerCheck.complete.failure(of: answer("The capital", finish: .length)) == "cut at the token limit")
    }

    @Test func fencedBlocksAreFoundByLanguage() {
        let text = "Here:\n```python\nx = 1\n```\nand\n``` py\ny = 2\n```\n```js\nz\n```\n```python\nunclosed"
        #expect(AnswerCheck.fencedBlocks(in: text, languages: ["python", "py"]) == ["x = 1", "y = 2"])
        #expect(AnswerCheck.fencedBlocks(in: "no code", languages: ["python"]).isEmpty)
    }

    @Test func jsonChecksBlocksOrAWholeAnswerThatIsJSON() async {
        #expect(await AnswerCheck.json.failure(of: answer("```json\n{\"a\": [1, 2]}\n```")) == nil)
        #expect(await AnswerCheck.json.failure(of: answer("Plain prose, no JSON here.")) == nil)
        #expect(await AnswerCheck.json.failure(of: answer(" {\"a\": 1} ")) == nil)
        let trailingComma = await AnswerCheck.json.failure(of: answer("```json\n{\"a\": 1,}\n```"))
        #expect(trailingComma?.hasPrefix("JSON 1 of 1 does not parse") == true)
        #expect(await AnswerCheck.json.failure(of: answer("[1, 2")) != nil)
    }

    @Test(.enabled(if: AnswerCheck.pythonInterpreter() != nil, "needs python3 on the PATH"))
    func pythonCompilesBlocksWithoutRunningThem() async throws {
        #expect(await AnswerCheck.python.failure(of: answer("```python\ndef f(x):\n    return x + 1\n```")) == nil)
        let broken = await AnswerCheck.python.failure(of: answer("```python\nok = 1\n```\n```python\ndef f(:\n    pass\n```"))
        #expect(broken?.hasPrefix("block 2: SyntaxError") == true, "\(broken ?? "nil")")
        // Compiling runs nothing: a block that would write a file leaves none.
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-check-\(UUID().uuidString)")
        let writes = "```python\nopen(\(String(reflecting: marker.path)), 'w').write('ran')\n```"
        #expect(await AnswerCheck.python.failure(of: answer(writes)) == nil)
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        #expect(await AnswerCheck.python.failure(of: answer("No code at all.")) == nil)
    }
}

@Suite struct RouterPolicyFileTests {
    @Test func readsTheMinimalFileAndTheFullOne() throws {
        let minimal = try JSONDecoder().decode(RouterPolicy.self, from: Data(#"{"tiers": ["a"], "min_mean_logprob": -0.5}"#.utf8))
        #expect(minimal == RouterPolicy(tiers: ["a"], minMeanLogprob: -0.5))
        let full = try JSONDecoder().decode(RouterPolicy.self, from: Data("""
            {"tiers": ["a", "b"], "min_mean_logprob": -0.3, "checks": ["complete", "python"],
             "remote": {"url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}}
            """.utf8))
        #expect(full.checks == [.complete, .python])
        #expect(full.remote == RouterPolicy.RemoteTier(url: "https://api.openai.com/v1", model: "gpt-4o-mini", apiKeyEnv: "OPENAI_API_KEY"))
        #expect(try JSONDecoder().decode(RouterPolicy.self, from: JSONEncoder().encode(full)) == full)
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(RouterPolicy.self, from: Data(#"{"tiers": ["a"], "min_mean_logprob": -1, "checks": ["spelling"]}"#.utf8))
        }
    }

    @Test func writesNoRemoteOrChecksItWasNotGiven() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-router-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try RouterPolicy(tiers: ["a"], minMeanLogprob: -0.7).write(under: folder)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(!text.contains("remote") && !text.contains("checks"), "\(text)")
    }
}
