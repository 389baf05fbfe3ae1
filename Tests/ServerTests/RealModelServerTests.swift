import JSON
import Foundation
import GGUF
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server

/// The routes end to end on smollm2:135m from the test store.
@Suite(.serialized) struct RealModelServerTests {
    static let greedyChat = #"{"model":"smollm2:135m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name three colours."}],"temperature":0,"max_tokens":24"#

    @Test func chatCompletionAndItsStreamAgree() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let whole = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                                 body: body(Self.greedyChat + "}")) { response in
                #expect(response.status == .ok)
                return parse(response)
            }
            let choice = whole["choices"]?.array?.first
            let text = try #require(choice?["message"]?["content"]?.string)
            #expect(!text.isEmpty)
            #expect(["stop", "length"].contains(choice?["finish_reason"]?.string ?? ""))
            let usage = try #require(whole["usage"])
            let prompt = try #require(usage["prompt_tokens"]?.int)
            let completion = try #require(usage["completion_tokens"]?.int)
            #expect(prompt > 10 && completion > 0 && usage["total_tokens"]?.int == prompt + completion)

            let stream = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                                  body: body(Self.greedyChat + #","stream":true,"stream_options":{"include_usage":true}}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                return String(buffer: response.body)
            }
            let events = stream.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.last == "data: [DONE]")
            var streamed = ""
            var finish: String?
            var sawUsage = false
            for event in events.dropLast() {
                #expect(event.hasPrefix("data: "))
                let json = try JSONParser.parse(Array(event.dropFirst(6).utf8))
                if let delta = json["choices"]?.array?.first?["delta"] {
                    streamed += delta["content"]?.string ?? ""
                    if let reason = json["choices"]?.array?.first?["finish_reason"]?.string { finish = reason }
                }
                if json["usage"]?["completion_tokens"]?.int == completion { sawUsage = true }
            }
            #expect(streamed == text, "greedy: the stream spells the same answer")
            #expect(finish == choice?["finish_reason"]?.string)
            #expect(sawUsage, "stream_options.include_usage sends a usage chunk")
        }
    }

    @Test func promptLongerThanTheContextIs400BeforeDecoding() async throws {
        let app = try makeApplication({ $0.contextLength = 64 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let long = String(repeating: "many words here ", count: 100)
            let text = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"\#(long)"}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["message"]?.string?.contains("context") == true)
            }
            // max_tokens beyond the context left is clamped, not refused.
            let short = #"{"model":"smollm2:135m","prompt":"Once upon a time","max_tokens":100000,"temperature":0}"#
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: body(short)) { response in
                #expect(response.status == .ok)
                let choice = parse(response)["choices"]?.array?.first
                #expect(choice?["finish_reason"]?.string == "length" || choice?["finish_reason"]?.string == "stop")
                #expect((parse(response)["usage"]?["total_tokens"]?.int ?? 1000) <= 64)
            }
        }
    }

    @Test func fullQueueAnswers503WithRetryAfter() async throws {
        let app = try makeApplication({ $0.parallel = 1; $0.maxQueue = 0 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let request = #"{"model":"smollm2:135m","prompt":"The history of the world","max_tokens":200,"temperature":0}"#
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: body(request)) {
                            (Int($0.status.code), $0.headers[.retryAfter])
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == 200 }.count >= 1)
            let refused = statuses.filter { $0.0 == 503 }
            #expect(!refused.isEmpty, "with one slot and no queue, simultaneous requests are refused: \(statuses)")
            #expect(refused.allSatisfy { $0.1 == "1" })
            // The slot comes back: a new request succeeds.
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders, body: body(request)) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func ollamaChatStreamsNDJSONAndEndsWithCounts() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let text = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"Say hello."}],"options":{"temperature":0,"num_predict":12}}"#
            let lines = try await client.execute(uri: "/api/chat", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-ndjson")
                return String(buffer: response.body).split(separator: "\n").map(String.init)
            }
            let objects = try lines.map { try JSONParser.parse(Array($0.utf8)) }
            let last = try #require(objects.last)
            #expect(last["done"] == .bool(true))
            #expect(objects.dropLast().allSatisfy { $0["done"] == .bool(false) })
            #expect((last["eval_count"]?.int ?? 0) > 0 && (last["eval_count"]?.int ?? 99) <= 12)
            #expect((last["prompt_eval_count"]?.int ?? 0) > 0)
            let streamed = objects.compactMap { $0["message"]?["content"]?.string }.joined()
            #expect(!streamed.isEmpty)

            // /api/ps now lists the model, with an expiry.
            try await client.execute(uri: "/api/ps", method: .get) { response in
                let models = parse(response)["models"]?.array ?? []
                #expect(models.contains { $0["name"]?.string == "smollm2:135m" })
            }
        }
    }

    @Test func embeddingsRoutes() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let text = #"{"model":"smollm2:135m","input":["a red apple","a tax form"]}"#
            try await client.execute(uri: "/v1/embeddings", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .ok)
                let data = parse(response)["data"]?.array ?? []
                #expect(data.count == 2)
                #expect(data.first?["embedding"]?.array?.count == 576)
            }
            try await client.execute(uri: "/api/embed", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .ok)
                #expect(parse(response)["embeddings"]?.array?.count == 2)
            }
        }
    }
}

/// Models load on first use and unload when their keep-alive runs out.
@Suite(.serialized) struct KeepAliveTests {
    @Test func keepAliveDecidesWhenAModelUnloads() async throws {
        var configuration = ServerConfiguration()
        configuration.keepAlive = .seconds(600)
        let server = HearthServer(configuration: configuration, store: try storeWithSmolLM())
        let models = server.models

        // The server default (10 minutes): still loaded after a request ends.
        let first = try await models.acquire("smollm2:135m")
        first.usage.end()
        await models.unloadIdle()
        #expect(await models.instances.count == 1)
        #expect(first.usage.expiry.map { $0.timeIntervalSinceNow > 590 } == true)

        // A request with keep_alive 0 (Ollama's "unload now"): gone at the next sweep.
        let again = try await models.acquire("smollm2:135m", keepAlive: .some(.zero))
        #expect(again === first, "a loaded model is reused, not loaded twice")
        await models.unloadIdle()
        #expect(await models.instances.count == 1, "never unloaded while a request holds it")
        again.usage.end()
        await models.unloadIdle()
        #expect(await models.instances.isEmpty)

        // keep_alive -1 (nil): stays, whatever the time.
        let forever = try await models.acquire("smollm2:135m", keepAlive: .some(nil))
        forever.usage.end()
        await models.unloadIdle()
        #expect(await models.instances.count == 1 && forever.usage.expiry == nil)
    }
}

/// Without `--parallel`, each model gets the most slots (4, 2, 1) whose KV caches fit.
@Suite(.serialized) struct ParallelChoiceTests {
    /// A manager whose memory admits at most `slotsThatFit` slots of smollm2's caches.
    func manager(parallel: Int?, slotsThatFit: Int) throws -> ModelManager {
        let store = try storeWithSmolLM()
        let path = try #require(try store.installedModel(named: "smollm2:135m")).path
        var configuration = ServerConfiguration()
        configuration.parallel = parallel
        let slotBytes = try ModelManager.cacheBytes(file: try GGUFFile(path: path), contextLength: configuration.contextLength, type: .f16)
        let budget = slotBytes * slotsThatFit + configuration.prefixCacheBytes
        configuration.admitModel = { _, bytes in
            if bytes > budget { throw APIError.badRequest("needs \(bytes) bytes, \(budget) available") }
        }
        return ModelManager(store: store, configuration: configuration)
    }

    @Test func slotsFollowMemory() async throws {
        for (fit, expected) in [(8, 4), (3, 2), (1, 1)] {
            let models = try manager(parallel: nil, slotsThatFit: fit)
            let instance = try await models.acquire("smollm2:135m")
            #expect(instance.scheduler.configuration.slots == expected, "\(fit) slots fit")
            instance.usage.end()
            await models.unloadIdle(force: true)
        }
    }

    @Test func explicitParallelIsKeptOrRefused() async throws {
        let models = try manager(parallel: 3, slotsThatFit: 3)
        let instance = try await models.acquire("smollm2:135m")
        #expect(instance.scheduler.configuration.slots == 3)
        instance.usage.end()
        await models.unloadIdle(force: true)
        let tooMany = try manager(parallel: 3, slotsThatFit: 2)
        await #expect(throws: APIError.self) { _ = try await tooMany.acquire("smollm2:135m") }
    }
}
