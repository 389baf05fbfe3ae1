import JSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server
import Store

/// What a load balancer reads from a replica (docs/scaling.md): readiness and liveness, its name
/// on every response, the conversation's routing key, and the endpoint picker's metrics.
struct ReplicaTests {
    static let replicaField = HTTPField.Name("X-Hearth-Replica")!
    static let affinityField = HTTPField.Name("X-Hearth-Affinity")!

    func server(store: ModelStore? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> HearthServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.replicaName = "replica-7"
        configuration.recordsUsage = false
        configure(&configuration)
        return HearthServer(configuration: configuration, store: try store ?? emptyStore())
    }

    @Test func healthIsReadyThenDrainingWhileLivenessStays() async throws {
        let server = try server()
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[Self.replicaField] == "replica-7")
                let health = parse(response)
                #expect(health["status"]?.string == "ok")
                #expect(health["ready"] == .bool(true))
                #expect(health["replica"]?.string == "replica-7")
                #expect(health["models_loaded"]?.int == 0)
            }
            try await client.execute(uri: "/health/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("hearth_ready 1\n"))
                #expect(text.contains("hearth_draining 0\n"))
                #expect(text.contains("hearth_replica_info{replica=\"replica-7\",version=\"\(HearthServer.version)\"} 1\n"))
            }

            server.replica.startDraining()
            for path in ["/health", "/health/ready"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "1")
                    #expect(response.headers[.connection] == "close", "a draining replica asks clients to reconnect elsewhere")
                    #expect(parse(response)["status"]?.string == "draining")
                    #expect(parse(response)["ready"] == .bool(false))
                }
            }
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
                #expect(parse(response)["status"]?.string == "draining")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("hearth_ready 0\n"))
                #expect(text.contains("hearth_draining 1\n"))
            }
        }
    }

    @Test func healthNeedsNoKeyButDoesNotNameModels() async throws {
        let server = try server { $0.apiKey = "secret" }
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.router) { client in
            for path in ["/health", "/health/live", "/health/ready"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(!String(buffer: response.body).contains("smollm2"))
                }
            }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func theAffinityKeyFollowsTheDocumentedRule() throws {
        // sha256("hello") = 2cf24dba5fb0a30e26e8…
        let plain: JSONValue = ["messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": "hello"],
                                             ["role": "assistant", "content": "hi"], ["role": "user", "content": "again"]]]
        #expect(ConversationAffinity.key(of: plain) == "2cf24dba5fb0a30e")
        // Parts: their texts joined by a line feed (sha256("hello\nworld") = 26c60a61d01db583…).
        let parts: JSONValue = ["messages": [["role": "user", "content": [["type": "text", "text": "hello"],
                                                                         ["type": "image_url", "image_url": ["url": "x"]],
                                                                         ["type": "text", "text": "world"]]]]]
        #expect(ConversationAffinity.key(of: parts) == "26c60a61d01db583")
        #expect(ConversationAffinity.key(of: ["messages": [["role": "system", "content": "x"]]]) == nil)
        #expect(ConversationAffinity.key(of: ["prompt": "hello"]) == nil)
        #expect(ConversationAffinity.isValidClientKey("conversation-42"))
        #expect(!ConversationAffinity.isValidClientKey("two words"))
        #expect(!ConversationAffinity.isValidClientKey(""))
        #expect(!ConversationAffinity.isValidClientKey(String(repeating: "a", count: 129)))
    }

    @Test func chatAnswersCarryTheKeyEvenWhenRefused() async throws {
        let server = try server()
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let chat = #"{"model":"no-such-model:1b","messages":[{"role":"user","content":"hello"}]}"#
        // Anthropic's route requires max_tokens; Ollama's refuses it.
        let anthropic = #"{"model":"no-such-model:1b","max_tokens":8,"messages":[{"role":"user","content":"hello"}]}"#
        try await app.test(.router) { client in
            for path in ["/v1/chat/completions", "/api/chat", "/v1/messages"] {
                try await client.execute(uri: path, method: .post, headers: jsonHeaders,
                                         body: body(path == "/v1/messages" ? anthropic : chat)) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[Self.affinityField] == "2cf24dba5fb0a30e", "\(path)")
                    #expect(response.headers[Self.replicaField] == "replica-7")
                }
            }
            // The client's own key wins; one a balancer could not hash on is ignored.
            var headers = jsonHeaders
            headers[Self.affinityField] = "conversation-42"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body(chat)) { response in
                #expect(response.headers[Self.affinityField] == "conversation-42")
            }
            headers[Self.affinityField] = "not a key"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: body(chat)) { response in
                #expect(response.headers[Self.affinityField] == "2cf24dba5fb0a30e")
            }
            try await client.execute(uri: "/v1/completions", method: .post, headers: jsonHeaders,
                                     body: body(#"{"model":"no-such-model:1b","prompt":"hello"}"#)) { response in
                #expect(response.headers[Self.affinityField] == nil, "a completion has no conversation")
            }
        }
    }

    @Test func metricsCarryTheEndpointPickerNamesPerModel() async throws {
        let server = try server(store: try storeWithSmolLM()) { $0.parallel = 2; $0.contextLength = 512 }
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let chat = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"Name three colours."}],"temperature":0,"max_tokens":4}"#
        try await app.test(.router) { client in
            // The same conversation twice: the second time its prompt comes from the slot's cache.
            for _ in 0..<2 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(chat)) {
                    #expect($0.status == .ok)
                }
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                let model = "model_name=\"smollm2:135m\""
                for line in ["vllm:num_requests_waiting{\(model)} 0", "vllm:num_requests_running{\(model)} 0",
                             "vllm:kv_cache_usage_perc{\(model)} 0.0", "vllm:gpu_cache_usage_perc{\(model)} 0.0",
                             "vllm:cache_config_info{\(model),block_size=\"32\",num_gpu_blocks=\"32\"} 1",
                             "hearth_slots{model=\"smollm2:135m\"} 2", "hearth_requests_running{model=\"smollm2:135m\"} 0"] {
                    #expect(text.contains(line + "\n"), "\(line)")
                }
                #expect(text.contains("vllm:lora_requests_info{max_lora=\"0\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"} "))
                func value(_ name: String) -> Double? {
                    text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last!) }
                }
                let queried = try #require(value("vllm:prefix_cache_queries_total{\(model)}"))
                let hits = try #require(value("vllm:prefix_cache_hits_total{\(model)}"))
                let ratio = try #require(value("hearth_prefix_cache_hit_ratio{model=\"smollm2:135m\"}"))
                #expect(queried > 0 && hits > 0 && hits < queried, "the second request reused the first one's prompt")
                #expect(abs(ratio - hits / queried) < 1e-9)
                #expect(value("hearth_prefix_cache_hit_tokens_total{model=\"smollm2:135m\"}") == hits)
            }
        }
    }
}
