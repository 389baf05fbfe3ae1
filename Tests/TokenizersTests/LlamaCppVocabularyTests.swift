import Foundation
import Testing
import Tokenizers

/// Exactness against the vocabulary tests that ship with llama.cpp (`models/ggml-vocab-*.gguf`
/// with `.inp`/`.out`): the expected ids come from the Hugging Face tokenizers, and llama.cpp's
/// `test-tokenizer-0` compares them with `tokenize(text, add_special: false, parse_special: false)`.
struct LlamaCppVocabularyTests {
    /// One `.inp`/`.out` case.
    struct Case {
        let input: [UInt8]
        let expected: [Int32]
    }

    /// Splits the files the way `test-tokenizer-0` does: inputs are separated by
    /// "\n__ggml_vocab_test__\n", outputs are one line each (space-separated ids); a repeated input
    /// keeps its last expectation.
    static func cases(for vocabulary: URL) throws -> [Case] {
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: vocabulary.path + ".inp")))
        let output = String(decoding: try Data(contentsOf: URL(fileURLWithPath: vocabulary.path + ".out")), as: UTF8.self)
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var inputs: [[UInt8]] = []
        var position = 0
        while position < input.count {
            var next = position
            while next + separator.count <= input.count && !input[next..<(next + separator.count)].elementsEqual(separator) {
                next += 1
            }
            if next + separator.count > input.count {
                inputs.append(Array(input[position...]))
                break
            }
            inputs.append(Array(input[position..<next]))
            position = next + separator.count
        }
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard inputs.count == lines.count else {
            throw TestResources.Missing(description: "\(vocabulary.lastPathComponent): \(inputs.count) inputs, \(lines.count) outputs")
        }
        var cases: [Case] = []
        var indexOfInput: [[UInt8]: Int] = [:]
        for (text, line) in zip(inputs, lines) {
            let ids = line.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            if let existing = indexOfInput[text] {
                cases[existing] = Case(input: text, expected: ids)
            } else {
                indexOfInput[text] = cases.count
                cases.append(Case(input: text, expected: ids))
            }
        }
        return cases
    }

    @Test(
        "identical ids to llama.cpp's vocabulary tests",
        arguments: [
            "gpt-2", "llama-bpe", "qwen2", "qwen35", "deepseek-coder", "deepseek-llm", "starcoder", "refact",
            "command-r", "falcon", "mpt", "llama-spm", "phi-3",
        ])
    func vocabularyTestFile(name: String) throws {
        let url = try TestResources.llamaCppVocabulary(name)
        let tokenizer = try TestResources.tokenizer(at: url)
        let cases = try Self.cases(for: url)
        #expect(cases.count > 20)
        var failures = 0
        for testCase in cases {
            let ids = tokenizer.encode(bytes: testCase.input, addSpecial: false, parseSpecial: false)
            if ids != testCase.expected {
                failures += 1
                Issue.record("""
                    \(name): \(String(reflecting: String(decoding: testCase.input, as: UTF8.self)))
                      expected \(testCase.expected)
                      got      \(ids)
                    """)
            }
        }
        #expect(failures == 0, "\(failures) of \(cases.count) cases differ")
    }
}
