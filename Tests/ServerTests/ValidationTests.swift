import JSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Server

/// Every bad request is refused with a 400 (or 404) and an error body that names the problem,
/// before any model is loaded — and the server stays healthy afterwards.
@Suite struct ValidationTests {
    static let chat = #""model":"smollm2:135m","messages":[{"role":"user","content":"hi"}]"#

    /// (route, body, the field the error must name)
    static let badRequests: [(String, String, String)] = [
        ("/v1/chat/completions", "{", "invalid JSON"),
        ("/v1/chat/completions", "[]", "JSON object"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":-1}", "temperature"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":3}", "temperature"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":NaN}", "invalid JSON"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":Infinity}", "invalid JSON"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":1e999}", "out of range"),
        ("/v1/chat/completions", "{\(chat),\"temperature\":\"hot\"}", "temperature"),
        ("/v1/chat/completions", "{\(chat),\"top_p\":1.5}", "top_p"),
        ("/v1/chat/completions", "{\(chat),\"max_tokens\":-1}", "max_tokens"),
        ("/v1/chat/completions", "{\(chat),\"max_tokens\":0}", "max_tokens"),
        ("/v1/chat/completions", "{\(chat),\"max_tokens\":2147483648}", "max_tokens"),
        ("/v1/chat/completions", "{\(chat),\"max_tokens\":9223372036854775808}", "max_tokens"),
        ("/v1/chat/completions", "{\(chat),\"max_tokens\":1.5}", "max_tokens"),
        ("/v1/chat/completions", "{\(chat),\"max_completion_tokens\":true}", "max_completion_tokens"),
        ("/v1/chat/completions", "{\(chat),\"seed\":-1}", "seed"),
        ("/v1/chat/completions", "{\(chat),\"seed\":9223372036854775808}", "seed"),
        ("/v1/chat/completions", "{\(chat),\"presence_penalty\":2.5}", "presence_penalty"),
        ("/v1/chat/completions", "{\(chat),\"frequency_penalty\":\"1\"}", "frequency_penalty"),
        ("/v1/chat/completions", "{\(chat),\"stop\":7}", "stop"),
        ("/v1/chat/completions", "{\(chat),\"stop\":[\"a\",3]}", "stop"),
        ("/v1/chat/completions", "{\(chat),\"n\":0}", "n"),
        ("/v1/chat/completions", "{\(chat),\"n\":129}", "n"),
        ("/v1/chat/completions", "{\(chat),\"logit_bias\":{\"a\":1}}", "logit_bias"),
        ("/v1/chat/completions", "{\(chat),\"logit_bias\":{\"5\":200}}", "logit_bias"),
        ("/v1/chat/completions", "{\(chat),\"logit_bias\":[1]}", "logit_bias"),
        ("/v1/chat/completions", "{\(chat),\"modalities\":[\"text\",\"audio\"]}", "modalities"),
        ("/v1/chat/completions", "{\(chat),\"top_logprobs\":3}", "top_logprobs"),
        ("/v1/chat/completions", "{\(chat),\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs"),
        ("/v1/chat/completions", "{\(chat),\"stream\":\"yes\"}", "stream"),
        ("/v1/chat/completions", "{\(chat),\"stream_options\":{\"include_usage\":1}}", "include_usage"),
        ("/v1/chat/completions", "{\(chat),\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"not\":{}}}}]}", "tools[0].function.parameters"),
        ("/v1/chat/completions", "{\(chat),\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f g\"}}]}", "tools[0].function.name"),
        ("/v1/chat/completions", "{\(chat),\"tools\":[{\"type\":\"retrieval\"}]}", "tools[0].type"),
        ("/v1/chat/completions", "{\(chat),\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}", "tool_choice.function.name"),
        ("/v1/chat/completions", "{\(chat),\"tool_choice\":\"required\"}", "tool_choice"),
        ("/v1/chat/completions", "{\(chat),\"tool_choice\":\"sometimes\"}", "tool_choice"),
        ("/v1/chat/completions", "{\(chat),\"response_format\":{\"type\":\"yaml\"}}", "response_format.type"),
        ("/v1/chat/completions", "{\(chat),\"response_format\":{\"type\":\"json_schema\"}}", "response_format.json_schema"),
        ("/v1/chat/completions", "{\(chat),\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"array\",\"uniqueItems\":true}}}}", "uniqueItems"),
        ("/v1/chat/completions", "{\(chat),\"functions\":[{\"name\":\"f\"}]}", "functions"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]}]}"#, "messages[0].tool_calls"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"not json"}}]}]}"#, "messages[0].tool_calls[0].function.arguments"),
        ("/v1/chat/completions", "{\(chat),\"frobnicate\":1}", "frobnicate"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m"}"#, "messages"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[]}"#, "messages"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":"hi"}"#, "messages"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"wizard","content":"hi"}]}"#, "role"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"content":"hi"}]}"#, "role"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"user","content":5}]}"#, "content"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#, "type"),
        ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}]}"#, "model"),
        ("/v1/chat/completions", #"{"model":7,"messages":[{"role":"user","content":"hi"}]}"#, "model"),
        ("/v1/completions", #"{"model":"smollm2:135m"}"#, "prompt"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":[]}"#, "prompt"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":[1,-2]}"#, "prompt[1]"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":["a",{"b":1}]}"#, "prompt[1]"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":"a","best_of":3}"#, "best_of"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":"a","echo":true,"logprobs":1}"#, "echo"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":["a","b"],"n":100}"#, "n"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":"a","logprobs":6}"#, "logprobs"),
        ("/v1/embeddings", #"{"model":"smollm2:135m"}"#, "input"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":[[1,-2]]}"#, "input[0][1]"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":[]}"#, "input"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":[1.5]}"#, "input"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":"a","encoding_format":"hex"}"#, "encoding_format"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":"a","dimensions":0}"#, "dimensions"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":"hot"}}"#, "options.temperature"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":-3}}"#, "options.num_predict"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"top_k":-1}}"#, "options.top_k"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"mirostat":3}}"#, "options.mirostat"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"typical_p":2}}"#, "options.typical_p"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"rope_frequency_base":1e6}}"#, "options.rope_frequency_base"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"think":"maybe"}"#, "think"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"truncate":"no"}"#, "truncate"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi","thinking":"I should greet."}]}"#, "messages[0].thinking"),
        ("/v1/chat/completions", "{\(chat),\"chat_template_kwargs\":[1]}", "chat_template_kwargs"),
        ("/v1/chat/completions", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi","reasoning_content":"hm"}]}"#, "messages[0].reasoning_content"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"think":7}"#, "think"),
        ("/v1/chat/completions", "{\(chat),\"chat_template_kwargs\":{\"messages\":[]}}", "chat_template_kwargs.messages"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":"hi","template":"{{ .Prompt }}"}"#, "template"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":"hi","raw":true,"suffix":"x"}"#, "suffix"),
        ("/api/embed", #"{"model":"smollm2:135m","input":"a","truncate":"yes"}"#, "truncate"),
        ("/api/copy", #"{"source":"smollm2:135m"}"#, "destination"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"warp":1}}"#, "options.warp"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"num_ctx":"big"}}"#, "options.num_ctx"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"format":"yaml"}"#, "format"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"format":{"type":"string","format":"hostname-ish"}}"#, "format"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"format":7}"#, "format"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":"hi","tools":[{"type":"function","function":{"name":"f"}}]}"#, "tools"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi","images":["AAAA"]}]}"#, "images"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"keep_alive":"soon"}"#, "keep_alive"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"keep_alive":[1]}"#, "keep_alive"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":"hi","raw":true,"system":"x"}"#, "system"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":"hi","context":[1,2]}"#, "context"),
        ("/api/generate", #"{"model":"smollm2:135m","prompt":5}"#, "prompt"),
        ("/api/embed", #"{"model":"smollm2:135m","input":7}"#, "input"),
        ("/api/pull", #"{"model":"/etc/passwd"}"#, "not in the catalog"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":"hi"}"#, "messages"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":{"role":"user","content":"hi"}}"#, "messages"),
        ("/v1/chat/completions", "{\(chat),\"stop\":\"\(String(repeating: "x", count: 16 * 1024 + 1))\"}", "stop"),
        ("/v1/chat/completions", "{\(chat),\"stop\":[\(Array(repeating: "\"\(String(repeating: "y", count: 2000))\"", count: 9).joined(separator: ","))]}", "stop"),
        ("/api/pull", #"{"model":"https://evil.example/model.gguf"}"#, "not in the catalog"),
    ]

    @Test func badRequestsAreRefusedWithAnErrorNamingTheField() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for (route, text, field) in Self.badRequests {
                try await client.execute(uri: route, method: .post, headers: jsonHeaders, body: body(text)) { response in
                    #expect([400, 404].contains(Int(response.status.code)), "\(route) \(text) → \(response.status)")
                    let json = parse(response)
                    let message = route.hasPrefix("/api/") ? json["error"]?.string : json["error"]?["message"]?.string
                    #expect(message?.contains(field) == true, "\(route) \(text): message '\(message ?? "none")' does not name \(field)")
                }
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func unsupportedFieldsSaySo() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            let text = "{\(Self.chat),\"functions\":[{\"name\":\"f\"}]}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(text)) { response in
                #expect(response.status == .badRequest)
                let error = parse(response)["error"]
                #expect(error?["param"]?.string == "functions")
                #expect(error?["type"]?.string == "invalid_request_error")
                #expect(error?["message"]?.string?.contains("not supported") == true)
            }
            // An empty list means "no tools" (Ollama's client always sends one): not an error.
            let none = #"{"model":"nope:1b","messages":[{"role":"user","content":"hi"}],"tools":[]}"#
            try await client.execute(uri: "/api/chat", method: .post, headers: jsonHeaders, body: body(none)) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    /// What apps send on their default settings passes validation (the empty store then answers
    /// 404 for the model, in OpenAI's words): empty values mean absent, runner options are
    /// ignored, and options that change the output are taken.
    static let lenientRequests: [(String, String)] = [
        ("/api/chat", #"{"model":"nope:1b","messages":[{"role":"user","content":"hi","images":[]}],"format":"","think":false,"template":"","tools":[],"options":{"num_ctx":8192,"num_gpu":99,"main_gpu":0,"use_mmap":true,"use_mlock":false,"numa":false,"num_batch":512,"num_thread":8,"low_vram":false,"num_keep":4,"tfs_z":1,"penalize_newline":true,"typical_p":0.9,"mirostat":2,"mirostat_tau":5,"mirostat_eta":0.1,"repeat_last_n":64}}"#),
        ("/api/generate", #"{"model":"nope:1b","prompt":"hi","suffix":"","template":"","system":"","context":[],"images":[],"think":false,"format":"","raw":false,"truncate":true,"shift":true}"#),
        ("/api/embed", #"{"model":"nope:1b","input":[[1,2,3],[4]],"truncate":true,"dimensions":576,"options":{"num_ctx":2048}}"#),
        ("/api/embeddings", #"{"model":"nope:1b","prompt":"hi","options":{"num_thread":2}}"#),
        ("/v1/chat/completions", #"{"model":"nope:1b","messages":[{"role":"user","content":"hi"}],"n":3,"logit_bias":{"15":-100,"7":2.5},"user":"u","service_tier":"auto","reasoning_effort":"low","prompt_cache_key":"k","store":false,"metadata":{},"modalities":["text"],"response_format":{"type":"text"},"tools":[],"functions":[],"audio":null,"prediction":{"type":"content","content":"x"},"parallel_tool_calls":false,"stream_options":null}"#),
        ("/v1/completions", #"{"model":"nope:1b","prompt":[[1,2],[3]],"n":2,"best_of":2,"echo":true,"suffix":"","logit_bias":{}}"#),
        ("/v1/embeddings", #"{"model":"nope:1b","input":[[1,2,3]],"encoding_format":"base64","user":"x"}"#),
    ]

    @Test func appsDefaultSettingsPassValidation() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for (route, text) in Self.lenientRequests {
                try await client.execute(uri: route, method: .post, headers: jsonHeaders, body: body(text)) { response in
                    #expect(response.status == .notFound, "\(route) \(text) → \(response.status): \(String(buffer: response.body))")
                    if !route.hasPrefix("/api/") {
                        #expect(parse(response)["error"]?["code"]?.string == "model_not_found")
                    }
                }
            }
        }
    }

    @Test func errorsCarryOpenAICodes() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            let unknown = "{\(Self.chat),\"frobnicate\":1}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(unknown)) { response in
                #expect(parse(response)["error"]?["code"]?.string == "unknown_parameter")
                #expect(parse(response)["error"]?["param"]?.string == "frobnicate")
            }
            let bad = "{\(Self.chat),\"temperature\":9}"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(bad)) { response in
                #expect(parse(response)["error"]?["code"]?.string == "invalid_value")
                #expect(parse(response)["error"]?["type"]?.string == "invalid_request_error")
            }
        }
    }

    /// A failure after the stream's first bytes is told in-band, in each API's shape.
    @Test func failuresMidStreamAreSentInBand() async throws {
        struct Broken: Error {}
        for (contentType, expected) in [("text/event-stream", #"data: {"error":{"message":"internal error"#),
                                        ("application/x-ndjson", #"{"error":"internal error"#)] {
            let router = Router(context: HearthRequestContext.self)
            router.get("/s") { _, _ in
                Reply.stream(contentType: contentType) { send in
                    try await send("first\n")
                    throw Broken()
                }
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.router) { client in
                try await client.execute(uri: "/s", method: .get) { response in
                    let text = String(buffer: response.body)
                    #expect(text.hasPrefix("first\n"))
                    #expect(text.dropFirst(6).hasPrefix(expected), "\(text)")
                }
            }
        }
    }

    @Test func unknownModelsAre404AndPathsAreNeverOpened() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for model in ["nope:1b", "../../etc/passwd", "/etc/passwd", "smollm2:135m"] {
                let text = #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(text)) { response in
                    #expect(response.status == .notFound, "\(model)")
                    #expect(parse(response)["error"]?["param"]?.string == "model")
                }
            }
            try await client.execute(uri: "/api/show", method: .post, headers: jsonHeaders, body: body(#"{"model":"nope:1b"}"#)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/api/delete", method: .delete, headers: jsonHeaders, body: body(#"{"model":"nope:1b"}"#)) {
                #expect($0.status == .notFound)
            }
        }
    }

    @Test func keepAliveDurations() throws {
        #expect(try parseKeepAlive("5m") == .seconds(300))
        #expect(try parseKeepAlive("1h30m") == .seconds(5400))
        #expect(try parseKeepAlive("250ms") == .milliseconds(250))
        #expect(try parseKeepAlive("0") == .zero)
        #expect(try parseKeepAlive("-1") == nil)
        #expect(try parseKeepAlive("-1m") == nil)
        for bad in ["", "m", "5x", "five minutes", "1e300"] {
            #expect(throws: APIError.self, "\(bad)") { try parseKeepAlive(bad) }
        }
    }
}
