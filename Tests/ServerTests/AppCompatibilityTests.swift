import JSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Store
import Testing
@testable import Server

/// What apps on their default settings rely on, end to end on smollm2:135m (and
/// qwen2.5-coder:0.5b for fill-in-the-middle): the context they ask for, conversations longer
/// than it, several choices, prompt lists, token ids, Ollama's discovery routes.
@Suite(.serialized) struct AppCompatibilityTests {
    func post(_ client: some TestClientProtocol, _ uri: String, _ text: String) async throws -> (HTTPResponse.Status, JSONValue) {
        try await client.execute(uri: uri, method: .post, headers: jsonHeaders, body: body(text)) { response in
            (response.status, parse(response))
        }
    }

    @Test func numCtxReloadsTheModelWithTheLargerContextUpToTheTrainedOne() async throws {
        let app = try makeApplication({ $0.contextLength = 256 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let ask = { (context: Int) in
                #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_ctx":\#(context),"num_predict":2,"temperature":0}}"#
            }
            for (asked, loaded) in [(1024, 4096), (512, 4096), (6000, 8192), (100_000, 8192)] {
                let (status, _) = try await post(client, "/api/chat", ask(asked))
                #expect(status == .ok)
                let ps = try await client.execute(uri: "/api/ps", method: .get) { parse($0) }
                let model = ps["models"]?.array?.first
                #expect(model?["context_length"]?.int == loaded,
                        "num_ctx \(asked): a smaller request keeps the larger cache; a larger one is rounded up to a multiple of 4096; beyond the trained 8192 it is clamped")
            }
        }
    }

    @Test func aConversationLongerThanTheContextDropsItsOldestTurns() async throws {
        let app = try makeApplication({ $0.contextLength = 160 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            var messages: [JSONValue] = [.object(["role": "system", "content": "You are terse."])]
            for turn in 0..<12 {
                messages.append(.object(["role": "user", "content": .string("Fact \(turn): the sky was a different colour on day \(turn).")]))
                messages.append(.object(["role": "assistant", "content": .string("Noted, fact \(turn).")]))
            }
            messages.append(.object(["role": "user", "content": "Which facts do you know?"]))
            let conversation = JSONValue.array(messages).serialized
            let ollama = #"{"model":"smollm2:135m","messages":\#(conversation),"stream":false,"options":{"num_predict":8,"temperature":0}}"#
            let (status, answer) = try await post(client, "/api/chat", ollama)
            #expect(status == .ok, "Ollama drops old turns: \(answer.serialized)")
            let promptTokens = try #require(answer["prompt_eval_count"]?.int)
            #expect(promptTokens <= 160 - 8, "the kept turns leave room for the answer: \(promptTokens)")

            let strict = #"{"model":"smollm2:135m","messages":\#(conversation),"stream":false,"truncate":false}"#
            let (strictStatus, refusal) = try await post(client, "/api/chat", strict)
            #expect(strictStatus == .badRequest)
            #expect(refusal["error"]?.string?.contains("context") == true)

            let openAI = #"{"model":"smollm2:135m","messages":\#(conversation)}"#
            let (openAIStatus, error) = try await post(client, "/v1/chat/completions", openAI)
            #expect(openAIStatus == .badRequest)
            #expect(error["error"]?["code"]?.string == "context_length_exceeded")
            #expect(error["error"]?["message"]?.string?.hasPrefix("This model's maximum context length is 160 tokens") == true)
        }
    }

    @Test func severalChoicesAndPromptLists() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let chat = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"Name a fruit."}],"n":3,"max_tokens":6,"temperature":1,"seed":7}"#
            let (status, answer) = try await post(client, "/v1/chat/completions", chat)
            #expect(status == .ok)
            let choices = answer["choices"]?.array ?? []
            #expect(choices.map { $0["index"]?.int } == [0, 1, 2])
            #expect(choices.allSatisfy { !($0["message"]?["content"]?.string ?? "").isEmpty })
            #expect(answer["usage"]?["completion_tokens"]?.int ?? 0 > 6, "three answers' tokens are counted")

            // The first choice is what n = 1 with the same seed answers.
            let single = chat.replacingOccurrences(of: #""n":3"#, with: #""n":1"#)
            let (_, one) = try await post(client, "/v1/chat/completions", single)
            #expect(one["choices"]?.array?.first?["message"]?["content"] == choices.first?["message"]?["content"])

            // Streamed: every choice's deltas, each ending with its finish reason.
            let stream = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                                  body: body(chat.dropLast() + #","stream":true}"#)) { String(buffer: $0.body) }
            var finished: Set<Int> = []
            var streamed: [Int: String] = [:]
            for event in stream.components(separatedBy: "\n\n") where event.hasPrefix("data: {") {
                let json = try JSONParser.parse(Array(event.dropFirst(6).utf8))
                for choice in json["choices"]?.array ?? [] {
                    let index = try #require(choice["index"]?.int)
                    streamed[index, default: ""] += choice["delta"]?["content"]?.string ?? ""
                    if choice["finish_reason"]?.string != nil { finished.insert(index) }
                }
            }
            #expect(finished == [0, 1, 2])
            for (index, choice) in choices.enumerated() {
                #expect(streamed[index] == choice["message"]?["content"]?.string, "seeded choice \(index) streams the same text")
            }

            // Legacy completions: two prompts (text and token ids) × two choices.
            let tokens = try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders,
                                                  body: body(#"{"model":"smollm2:135m","prompt":"Once upon","max_tokens":1,"temperature":0,"echo":true}"#)) { parse($0) }
            #expect(tokens["choices"]?.array?.first?["text"]?.string?.hasPrefix("Once upon") == true, "echo puts the prompt first")
            let lists = #"{"model":"smollm2:135m","prompt":["The capital of France is",[504,3575,282]],"n":2,"max_tokens":4,"temperature":0}"#
            let (listStatus, completions) = try await post(client, "/v1/completions", lists)
            #expect(listStatus == .ok)
            let texts = (completions["choices"]?.array ?? []).map { $0["text"]?.string ?? "" }
            #expect(texts.count == 4)
            #expect(texts[0] == texts[1] && texts[2] == texts[3], "greedy: a prompt's choices agree")
        }
    }

    @Test func embeddingsOfTokenIdsBatchesAndLongInputs() async throws {
        let app = try makeApplication({ $0.contextLength = 64 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let ids = try await client.execute(uri: "/api/embed", method: .post, headers: jsonHeaders,
                                               body: body(#"{"model":"smollm2:135m","input":"a red apple"}"#)) { parse($0) }
            let textVector = ids["embeddings"]?.array?.first?.array ?? []
            #expect(textVector.count == 576)
            // The same text as its token ids (the model's own, on Ollama's route) gives the same vector.
            let tokenized = try await client.execute(uri: "/api/embed", method: .post, headers: jsonHeaders,
                                                     body: body(#"{"model":"smollm2:135m","input":[[81,2382,11977]]}"#)) { parse($0) }
            let tokenVector = tokenized["embeddings"]?.array?.first?.array ?? []
            #expect(tokenVector.count == 576)
            #expect(tokenVector == textVector, "`hearth tokenize smollm2:135m 'a red apple'` gives these ids")
            let many = JSONValue.array((0..<300).map { .string("input number \($0)") }).serialized
            let (batchStatus, batch) = try await post(client, "/v1/embeddings", #"{"model":"smollm2:135m","input":\#(many)}"#)
            #expect(batchStatus == .ok)
            #expect(batch["data"]?.array?.count == 300)

            let long = String(repeating: "word ", count: 200)
            let (cutStatus, cut) = try await post(client, "/api/embed", #"{"model":"smollm2:135m","input":"\#(long)"}"#)
            #expect(cutStatus == .ok, "Ollama truncates to the context by default")
            #expect(cut["prompt_eval_count"]?.int == 64)
            let (refusedStatus, refused) = try await post(client, "/v1/embeddings", #"{"model":"smollm2:135m","input":"\#(long)"}"#)
            #expect(refusedStatus == .badRequest)
            #expect(refused["error"]?["code"]?.string == "context_length_exceeded")
            let (legacyStatus, legacy) = try await post(client, "/api/embeddings", #"{"model":"smollm2:135m","prompt":"a red apple"}"#)
            #expect(legacyStatus == .ok)
            #expect(legacy["embedding"]?.array?.count == 576)
            let (badTokenStatus, _) = try await post(client, "/api/embed", #"{"model":"smollm2:135m","input":[[49152]]}"#)
            #expect(badTokenStatus == .badRequest, "a token id beyond the vocabulary is refused")
            // OpenAI's route reads ids as OpenAI's (cl100k_base, what tiktoken gives its clients);
            // without tiktoken's copy of that vocabulary it says how to fix the request.
            if OpenAITokenIDs.candidatePaths().allSatisfy({ !FileManager.default.fileExists(atPath: $0) }) {
                let (status, refusal) = try await post(client, "/v1/embeddings", #"{"model":"smollm2:135m","input":[[9906,1917]]}"#)
                #expect(status == .badRequest)
                #expect(refusal["error"]?["message"]?.string?.contains("cl100k_base") == true)
            } else {
                // cl100k_base's 9906, 1917 spell "Hello world".
                let (_, ids) = try await post(client, "/v1/embeddings", #"{"model":"smollm2:135m","input":[[9906,1917]]}"#)
                let (_, text) = try await post(client, "/v1/embeddings", #"{"model":"smollm2:135m","input":"Hello world"}"#)
                #expect(ids["data"]?.array?.first?["embedding"] == text["data"]?.array?.first?["embedding"])
            }
        }
    }

    @Test func discoveryRoutesAnswerAsOllamaDoes() async throws {
        let store = try storeWithSmolLM()
        let app = try makeApplication(store: store)
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .head) { #expect($0.status == .ok) }
            let show = try await client.execute(uri: "/api/show", method: .post, headers: jsonHeaders,
                                                body: body(#"{"model":"smollm2:135m"}"#)) { parse($0) }
            #expect(show["capabilities"] == .array(["completion", "tools"]), "no insert: smollm2 has no fill-in-the-middle tokens")
            #expect(show["parameters"]?.string?.contains("num_ctx 4096") == true)
            #expect(show["model_info"]?["llama.context_length"]?.int == 8192)
            #expect(show["model_info"]?["general.parameter_count"]?.int ?? 0 > 100_000_000)

            // A copy under an untagged name: listed as name:latest, found under both spellings.
            let name = "copy-\(UUID().uuidString.prefix(8).lowercased())"
            let copy = #"{"source":"smollm2:135m","destination":"\#(name)"}"#
            try await client.execute(uri: "/api/copy", method: .post, headers: jsonHeaders, body: body(copy)) { response in
                #expect(response.status == .ok, "Ollama answers a copy with an empty 200")
            }
            defer { try? store.remove(name) }
            let tags = try await client.execute(uri: "/api/tags", method: .get) { parse($0) }
            #expect(tags["models"]?.array?.contains { $0["name"]?.string == name + ":latest" } == true)
            for spelling in [name, name + ":latest"] {
                let (status, _) = try await post(client, "/api/show", #"{"model":"\#(spelling)"}"#)
                #expect(status == .ok, "\(spelling)")
            }
            let (again, error) = try await post(client, "/api/copy", copy)
            #expect(again == .conflict)
            #expect(error["error"]?.string?.contains("already installed") == true)
        }
    }

    @Test func fillInTheMiddleWithACoderModel() async throws {
        let store = try testStore()
        guard try store.installedModel(named: "qwen2.5-coder:0.5b") != nil else {
            Issue.record("qwen2.5-coder:0.5b is not in the test store (HEARTH_TEST_HOME); run scripts/test, which pulls it")
            return
        }
        let app = try makeApplication(store: store)
        try await app.test(.router) { client in
            let show = try await client.execute(uri: "/api/show", method: .post, headers: jsonHeaders,
                                                body: body(#"{"model":"qwen2.5-coder:0.5b"}"#)) { parse($0) }
            #expect(show["capabilities"]?.array?.contains("insert") == true)
            let request = #"{"model":"qwen2.5-coder:0.5b","prompt":"def add(a, b):\n    return ","suffix":"\n\nprint(add(2, 3))\n","stream":false,"options":{"temperature":0,"num_predict":8}}"#
            let (status, answer) = try await post(client, "/api/generate", request)
            #expect(status == .ok)
            let middle = answer["response"]?.string ?? ""
            #expect(middle.contains("a + b") || middle.contains("a+b"), "the middle of an add function: \(middle)")
            let openAI = #"{"model":"qwen2.5-coder:0.5b","prompt":"def add(a, b):\n    return ","suffix":"\n\nprint(add(2, 3))\n","temperature":0,"max_tokens":8}"#
            let (openAIStatus, completion) = try await post(client, "/v1/completions", openAI)
            #expect(openAIStatus == .ok)
            #expect(completion["choices"]?.array?.first?["text"]?.string == middle, "both routes build the same prompt")
        }
    }
}
