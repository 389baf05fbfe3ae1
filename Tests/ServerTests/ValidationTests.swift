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
        ("/v1/chat/completions", "{\(chat),\"n\":2}", "n"),
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
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":[1,2,3]}"#, "prompt"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":"a","logprobs":6}"#, "logprobs"),
        ("/v1/completions", #"{"model":"smollm2:135m","prompt":"a","suffix":"b"}"#, "suffix"),
        ("/v1/embeddings", #"{"model":"smollm2:135m"}"#, "input"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":[[1,2]]}"#, "input"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":"a","encoding_format":"hex"}"#, "encoding_format"),
        ("/v1/embeddings", #"{"model":"smollm2:135m","input":"a","dimensions":8}"#, "dimensions"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"temperature":"hot"}}"#, "options.temperature"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":-3}}"#, "options.num_predict"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"top_k":-1}}"#, "options.top_k"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"mirostat":2}}"#, "options.mirostat"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"warp":1}}"#, "options.warp"),
        ("/api/chat", #"{"model":"smollm2:135m","messages":[{"role":"user","content":"hi"}],"options":{"num_ctx":10000000}}"#, "options.num_ctx"),
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
