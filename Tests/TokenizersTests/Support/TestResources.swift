import Foundation
import Tokenizers

/// Where the tests find their inputs, and a cache so each vocabulary is loaded once per run.
enum TestResources {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// `Tests/TokenizersTests/Fixtures`, found from this source file's location.
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A vocabulary file shipped in llama.cpp's source tree (`models/ggml-vocab-NAME.gguf` with its
    /// `.inp`/`.out` test cases). The tree is found through `HEARTH_LLAMACPP_SRC`.
    static func llamaCppVocabulary(_ name: String) throws -> URL {
        guard let root = ProcessInfo.processInfo.environment["HEARTH_LLAMACPP_SRC"], !root.isEmpty else {
            throw Missing(description: """
                HEARTH_LLAMACPP_SRC is not set: it must point at a llama.cpp source tree (the directory \
                holding models/ggml-vocab-*.gguf). Run the tests with scripts/test, which sets it.
                """)
        }
        let url = URL(fileURLWithPath: root).appendingPathComponent("models/ggml-vocab-\(name).gguf")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Missing(description: "\(url.path) does not exist (HEARTH_LLAMACPP_SRC=\(root)); run scripts/test")
        }
        return url
    }

    /// A catalog model installed for tests: `$HEARTH_TEST_HOME/models/NAME.gguf`, else
    /// `~/.hearth/models/NAME.gguf`.
    static func catalogModel(_ name: String) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [URL] = []
        if let home = environment["HEARTH_TEST_HOME"], !home.isEmpty {
            candidates.append(URL(fileURLWithPath: home).appendingPathComponent("models/\(name).gguf"))
        }
        candidates.append(
            FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".hearth/models/\(name).gguf"))
        for url in candidates where FileManager.default.fileExists(atPath: url.path) { return url }
        throw Missing(description: """
            model \(name) not found (looked at \(candidates.map(\.path).joined(separator: ", "))); \
            run scripts/test, which installs the test models and sets HEARTH_TEST_HOME
            """)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: Tokenizer] = [:]

    /// The tokenizer for a GGUF file, loaded once per test run.
    static func tokenizer(at url: URL) throws -> Tokenizer {
        lock.lock()
        defer { lock.unlock() }
        if let tokenizer = loaded[url.path] { return tokenizer }
        let tokenizer = try Tokenizer(vocabulary: VocabularyFile.load(url))
        loaded[url.path] = tokenizer
        return tokenizer
    }
}
