import Foundation
import Testing

@testable import Eval

@Suite struct GzipTests {
    static func fixture() throws -> Data {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/tiny-humaneval.jsonl", withExtension: "gz"))
        return try Data(contentsOf: url)
    }

    @Test func inflatesAFileWithANameInItsHeader() throws {
        let text = String(decoding: try Gzip.decompress(try Self.fixture()), as: UTF8.self)
        #expect(text.hasPrefix("{\"task_id\": \"Tiny/0\""))
        #expect(text.split(separator: "\n").count == 2)
    }

    @Test func namesADamagedFile() throws {
        var corrupt = try Self.fixture()
        corrupt[corrupt.count - 6] ^= 0xFF  // the trailer's CRC-32
        #expect(throws: Gzip.FormatError.self) { try Gzip.decompress(corrupt) }
        let truncated = try Self.fixture().prefix(40)
        #expect(throws: Gzip.FormatError.self) { try Gzip.decompress(Data(truncated)) }
        #expect(throws: Gzip.FormatError.self) { try Gzip.decompress(Data("not gzip at all, but long enough".utf8)) }
        #expect(throws: Gzip.FormatError.self) { try Gzip.decompress(try Self.fixture(), maximumSize: 100) }
    }
}

@Suite struct HumanEvalProblemTests {
    @Test func loadsProblemsCompressedOrNot() throws {
        let problems = try HumanEvalProblem.load(try GzipTests.fixture())
        #expect(problems.map(\.taskID) == ["Tiny/0", "Tiny/1"])
        #expect(problems[0].entryPoint == "total")
        let plain = try HumanEvalProblem.load(try Gzip.decompress(try GzipTests.fixture()))
        #expect(plain == problems)
    }

    @Test func refusesBadLines() {
        func load(_ text: String) -> String? {
            do {
                _ = try HumanEvalProblem.load(Data(text.utf8))
                return nil
            } catch { return "\(error)" }
        }
        #expect(load("[1, 2]")?.contains("line 1 is not a JSON object") == true)
        #expect(load(#"{"task_id": "A", "prompt": "p", "entry_point": "f", "test": ""}"#)?.contains("'test'") == true)
        #expect(load(#"{"task_id": "A", "prompt": "p", "entry_point": "f(); import os", "test": "t"}"#)?.contains("not a Python name") == true)
        let line = #"{"task_id": "A", "prompt": "p", "entry_point": "f", "test": "t"}"#
        #expect(load(line + "\n" + line)?.contains("appears twice") == true)
        #expect(load("\n\n")?.contains("no problems") == true)
    }

    let problem = HumanEvalProblem(taskID: "T/0", prompt: "def add(a, b):\n    \"\"\"Sum.\"\"\"\n", entryPoint: "add",
                                   test: "def check(candidate):\n    assert candidate(2, 3) == 5\n")

    @Test func findsTheCodeInAnAnswer() {
        #expect(HumanEvalProblem.code(in: "Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.") == "def add(a, b):\n    return a + b")
        // A block left open by max_tokens still holds its code.
        #expect(HumanEvalProblem.code(in: "```python\ndef add(a, b):\n    return a + b") == "def add(a, b):\n    return a + b")
        // The block that defines something wins over an example block before it.
        #expect(HumanEvalProblem.code(in: "```\nadd(1, 2)\n```\n```python\ndef add(a, b): return a + b\n```") == "def add(a, b): return a + b")
        #expect(HumanEvalProblem.code(in: "    return a + b") == "    return a + b")
    }

    @Test func keepsOnlyDefinitionsOfAFullAnswer() {
        // A language tag on its own line (a small model's habit), a demonstration and a main block.
        let answer = "```\npython\nimport math\nLIMIT: int = 3\ndef add(a, b):\n    total = (a +\n  b)\n    return total\n\nprint(add(1, 2))\nassert add(1, 1) == 3\nif __name__ == \"__main__\":\n    add(0, 0)\n```"
        let program = problem.program(for: answer)
        #expect(!program.contains("python\n"))
        #expect(!program.contains("print("))
        #expect(!program.contains("assert add(1, 1)"))
        #expect(!program.contains("__main__"))
        #expect(program.contains("import math\nLIMIT: int = 3\ndef add(a, b):\n    total = (a +\n  b)\n    return total"))
        #expect(program.hasPrefix(problem.prompt))
        #expect(program.hasSuffix("check(add)\n"))
    }

    @Test func continuesTheFunctionWhenTheAnswerIsItsBody() {
        #expect(problem.program(for: "    return a + b").hasPrefix(problem.prompt + "    return a + b\n"))
        #expect(problem.program(for: "return a + b").hasPrefix(problem.prompt + "    return a + b\n"))
    }
}
