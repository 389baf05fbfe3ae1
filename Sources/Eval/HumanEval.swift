import Foundation

/// HumanEval (Chen et al. 2021): 164 Python functions to complete from their signature and
/// docstring, each judged by running its unit tests on the completion (pass@1).
///
/// Instruct models are asked as EvalPlus asks them (the harness the Qwen2.5-Coder report used for
/// its instruct scores): the problem in a fenced block, "provide a self-contained Python script";
/// the answer's code block is run after the prompt (which keeps the prompt's imports and helper
/// functions) and before the tests.
public struct HumanEvalProblem: Sendable, Equatable {
    public var taskID: String
    public var prompt: String
    public var entryPoint: String
    public var test: String

    /// The problems of a `HumanEval.jsonl` file (gzip-compressed or not), checked: every line a
    /// JSON object with string `task_id`, `prompt`, `entry_point` (a Python name) and `test`.
    public static func load(_ data: Data) throws -> [HumanEvalProblem] {
        let text = data.starts(with: [0x1F, 0x8B]) ? try Gzip.decompress(data) : data
        var problems: [HumanEvalProblem] = []
        var seen = Set<String>()
        for (index, line) in text.split(separator: UInt8(ascii: "\n")).enumerated() {
            let where_ = "HumanEval line \(index + 1)"
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) else { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw EvalError("\(where_) is not a JSON object")
            }
            func field(_ name: String) throws -> String {
                guard let value = object[name] as? String, !value.isEmpty else { throw EvalError("\(where_): '\(name)' must be a non-empty string") }
                return value
            }
            let problem = HumanEvalProblem(taskID: try field("task_id"), prompt: try field("prompt"),
                                           entryPoint: try field("entry_point"), test: try field("test"))
            guard problem.entryPoint.first.map({ $0 == "_" || $0.isLetter }) == true,
                  problem.entryPoint.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
                throw EvalError("\(where_): entry_point '\(problem.entryPoint)' is not a Python name")
            }
            guard seen.insert(problem.taskID).inserted else { throw EvalError("\(where_): task_id '\(problem.taskID)' appears twice") }
            problems.append(problem)
        }
        guard !problems.isEmpty else { throw EvalError("the HumanEval file holds no problems") }
        return problems
    }

    /// The instruction sent as the user's message.
    public var instruction: String {
        """
        Please provide a self-contained Python script that solves the following problem in a markdown code block:
        ```
        \(prompt.trimmingCharacters(in: .whitespacesAndNewlines))
        ```
        """
    }

    /// The program that judges `answer`: the prompt, the answer's code, the tests, and the call
    /// of `check` on the entry point. An answer that only continues the function's body (indented
    /// code) is appended to the prompt as it stands.
    public func program(for answer: String) -> String {
        var code = Self.code(in: answer)
        let defines = code.contains("def \(entryPoint)(")
        if defines { code = Self.definitions(in: code) }
        let body = defines || code.hasPrefix(" ") || code.hasPrefix("\t")
            ? code : code.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        return prompt + (defines ? "\n\n" : "") + body + "\n\n" + test + "\n\ncheck(\(entryPoint))\n"
    }

    /// The code of an answer: its first fenced block that defines a function (else its first
    /// fenced block, else all of it).
    static func code(in answer: String) -> String {
        var blocks: [String] = []
        var current: [Substring]?
        for line in answer.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                if let lines = current {
                    blocks.append(lines.joined(separator: "\n"))
                    current = nil
                } else {
                    current = []
                }
            } else {
                current?.append(line)
            }
        }
        // An answer cut off by max_tokens inside its block still has its code.
        if let lines = current { blocks.append(lines.joined(separator: "\n")) }
        if let withFunction = blocks.first(where: { $0.contains("def ") }) { return withFunction }
        return blocks.first ?? answer
    }

    /// The imports, definitions and assignments of `code` — what EvalPlus's sanitiser keeps —
    /// without its other top-level statements: a stray language tag, example calls, prints, an
    /// `if __name__ == "__main__":` block, asserts of the model's own.
    static func definitions(in code: String) -> String {
        var kept: [Substring] = []
        var keeping = false
        for line in code.split(separator: "\n", omittingEmptySubsequences: false) {
            let startsStatement = line.first.map { !$0.isWhitespace && $0 != "#" && !")]}".contains($0) } ?? false
            if startsStatement { keeping = keeps(line) }
            if keeping { kept.append(line) }
        }
        return kept.joined(separator: "\n")
    }

    static func keeps(_ statement: Substring) -> Bool {
        for prefix in ["import ", "from ", "def ", "async def ", "class ", "@"] where statement.hasPrefix(prefix) { return true }
        // An assignment: a name (optionally annotated) then a single `=`.
        let name = statement.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
        guard !name.isEmpty, !(name.first?.isNumber ?? true) else { return false }
        let rest = statement.dropFirst(name.count).drop { $0 == " " }
        if rest.hasPrefix(":") { return rest.contains("=") && !rest.contains("==") }
        return rest.hasPrefix("=") && !rest.hasPrefix("==")
    }

    /// The problems as a suite whose answers are judged in `sandbox`.
    public static func suite(_ problems: [HumanEvalProblem], sandbox: Sandbox, maxTokens: Int) -> EvalSuite {
        EvalSuite(
            name: "humaneval", summary: "HumanEval, pass@1: \(problems.count) Python problems judged by their unit tests",
            items: problems.map { problem in
                EvalItem(id: problem.taskID, messages: [EvalMessage(role: "user", content: problem.instruction)], maxTokens: maxTokens) { answer in
                    let outcome = await sandbox.run(problem.program(for: answer))
                    return Grade(passed: outcome.passed, detail: outcome.detail)
                }
            },
            wantsLogprobs: false)
    }
}

/// A problem an evaluation cannot go on from, named.
public struct EvalError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
