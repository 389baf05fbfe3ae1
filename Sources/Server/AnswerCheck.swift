import Engine
import Foundation
import JSON

/// A check the router's policy (`checks` in `router.json`) makes of a tier's answer, besides its
/// confidence: an answer that fails one goes to the next tier.
public enum AnswerCheck: String, Codable, Sendable, CaseIterable {
    /// The answer ended by itself, not at the token limit.
    case complete
    /// JSON in the answer parses: every ```json block, or the whole answer when it is an object
    /// or a list.
    case json
    /// Python in the answer compiles: every ```python (or ```py) block, compiled by python3
    /// without being run.
    case python

    /// Why `result` fails the check; nil when it passes (or holds nothing the check is about).
    func failure(of result: GenerationResult) async -> String? {
        switch self {
        case .complete:
            return result.finishReason == .length ? "cut at the token limit" : nil
        case .json:
            let trimmed = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
            var documents = Self.fencedBlocks(in: result.text, languages: ["json"])
            if documents.isEmpty, let first = trimmed.first, first == "{" || first == "[" { documents = [trimmed] }
            for (index, document) in documents.enumerated() {
                do {
                    _ = try JSONParser.parse(Array(document.utf8)[...], maximumDepth: 256)
                } catch {
                    return "JSON \(index + 1) of \(documents.count) does not parse: \(error)"
                }
            }
            return nil
        case .python:
            let blocks = Self.fencedBlocks(in: result.text, languages: ["python", "py", "python3"])
            guard !blocks.isEmpty else { return nil }
            return try? await offload { Self.pythonSyntaxError(in: blocks) } ?? nil
        }
    }

    /// The bodies of Markdown code blocks fenced with one of `languages`.
    static func fencedBlocks(in text: String, languages: Set<String>) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var body = current {
                if trimmed == "```" {
                    blocks.append(body.joined(separator: "\n"))
                    current = nil
                } else {
                    body.append(line)
                    current = body
                }
            } else if trimmed.hasPrefix("```"), languages.contains(trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces).lowercased()) {
                current = []
            }
        }
        return blocks
    }

    /// python3 on the PATH, if there is one.
    static func pythonInterpreter() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Compiles each block with python3 (`compile()`, which runs nothing; isolated mode, no site
    /// packages); the first syntax error, or nil. Blocks the calling thread (a worker's).
    static func pythonSyntaxError(in blocks: [String]) -> String? {
        guard let python = pythonInterpreter() else { return "python3 is not on the PATH" }
        let script = """
            import json, sys
            for number, block in enumerate(json.load(sys.stdin), 1):
                try:
                    compile(block, f"<block {number}>", "exec", dont_inherit=True)
                except (SyntaxError, ValueError) as error:
                    print(f"block {number}: {type(error).__name__}: {error}")
                    break
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-I", "-S", "-B", "-c", script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return "python3 did not start: \(error)"
        }
        let payload = JSONValue.array(blocks.map(JSONValue.string)).serialized
        let writer = Thread {
            input.fileHandleForWriting.write(Data(payload.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10, execute: timer)
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else { return "python3 did not finish the check" }
        let text = String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
