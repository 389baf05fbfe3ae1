import JSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server
import Store

/// An embedding model (all-MiniLM-L6-v2, BERT) served from a file (`serve --model PATH`): the
/// embedding routes use its own pooling, and chat and generate are refused in Ollama's words.
/// scripts/test converts the model (scripts/fetch-embedding-model).
@Suite(.serialized) struct EmbeddingModelServerTests {
    static func served() throws -> InstalledModel {
        let home = ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"] ?? NSHomeDirectory() + "/.cache/hearth-test"
        let path = "\(home)/embedding/all-minilm-l6-v2.f16.gguf"
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            Issue.record("\(path) not found; run scripts/fetch-embedding-model (scripts/test does)")
            throw CancellationError()
        }
        return InstalledModel(name: "all-minilm", path: path, sha256: String(repeating: "0", count: 64),
                              size: (attributes[.size] as? NSNumber)?.int64Value ?? 0, source: "file:\(path)", modified: Date())
    }

    @Test func embedsWithItsOwnPoolingAndRefusesGeneration() async throws {
        let model = try Self.served()
        let app = try makeApplication { $0.servedFiles = [model] }
        try await app.test(.router) { client in
            let input = #"{"model":"all-minilm","input":["The cat sits on the mat.","A kitten is resting on a rug."]}"#
            try await client.execute(uri: "/api/embed", method: .post, headers: jsonHeaders, body: body(input)) { response in
                #expect(response.status == .ok)
                let answer = parse(response)
                let vectors = answer["embeddings"]?.array ?? []
                #expect(vectors.count == 2)
                for vector in vectors {
                    let values = (vector.array ?? []).compactMap { value -> Double? in
                        if case .double(let d) = value { return d }
                        return value.int.map(Double.init)
                    }
                    #expect(values.count == 384)
                    #expect(abs(values.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
                }
                // [CLS] the cat sits on the mat . [SEP] and [CLS] a kitten is resting on a rug . [SEP]
                #expect(answer["prompt_eval_count"]?.int == 9 + 10)
            }
            try await client.execute(uri: "/v1/embeddings", method: .post, headers: jsonHeaders, body: body(input)) { response in
                #expect(response.status == .ok)
                #expect(parse(response)["data"]?.array?.first?["embedding"]?.array?.count == 384)
            }
            for (uri, request, action) in [
                ("/api/chat", #"{"model":"all-minilm","messages":[{"role":"user","content":"hi"}]}"#, "chat"),
                ("/api/generate", #"{"model":"all-minilm","prompt":"hi"}"#, "generate"),
            ] {
                try await client.execute(uri: uri, method: .post, headers: jsonHeaders, body: body(request)) { response in
                    #expect(response.status == .badRequest)
                    #expect(parse(response)["error"]?.string == "\"all-minilm\" does not support \(action)")
                }
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                     body: body(#"{"model":"all-minilm","messages":[{"role":"user","content":"hi"}]}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["message"]?.string == "\"all-minilm\" does not support chat")
            }
            try await client.execute(uri: "/api/show", method: .post, headers: jsonHeaders, body: body(#"{"model":"all-minilm"}"#)) { response in
                #expect(response.status == .ok)
                #expect(parse(response)["capabilities"]?.array == [.string("embedding")])
            }
        }
    }
}
