import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
@testable import Server
import ToolCalls

/// Structured output and tool calls through both APIs on smollm2:135m: whatever the model is
/// inclined to write, the answer matches the schema, and a forced tool call is always a call.
@Suite(.serialized) struct StructuredOutputServerTests {
    static let messages = #""messages":[{"role":"user","content":"Give me a city and its population as JSON."}]"#
    static let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":20},"population":{"type":"integer","minimum":0}},"required":["city","population"],"additionalProperties":false}"#
    static let tools = #"[{"type":"function","function":{"name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}}}]"#

    func checkCity(_ text: String) throws {
        let value = try JSONParser.parse(Array(text.utf8))
        guard case .object(let object) = value else { Issue.record("not an object: \(text)"); return }
        #expect(object.keys == ["city", "population"], "\(text)")
        if case .int(let population)? = object["population"] { #expect(population >= 0) } else { Issue.record("population: \(text)") }
    }

    func checkWeatherArguments(_ arguments: JSONValue) {
        guard case .object(let object) = arguments else { Issue.record("arguments not an object: \(arguments)"); return }
        #expect(object["city"]?.string != nil, "\(arguments)")
        #expect(["celsius", "fahrenheit"].contains(object["unit"]?.string ?? ""), "\(arguments)")
    }

    @Test func openAIJSONSchemaWholeAndStreamed() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let request = #"{"model":"smollm2:135m",\#(Self.messages),"max_tokens":120,"temperature":0,"response_format":{"type":"json_schema","json_schema":{"name":"city","strict":true,"schema":\#(Self.schema)}}"#
        try await app.test(.router) { client in
            let whole = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(request + "}")) {
                #expect($0.status == .ok)
                return parse($0)
            }
            let text = try #require(whole["choices"]?.array?.first?["message"]?["content"]?.string)
            try checkCity(text)
            #expect(whole["choices"]?.array?.first?["finish_reason"]?.string == "stop")
            let stream = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                                  body: body(request + #","stream":true}"#)) { String(buffer: $0.body) }
            var streamed = ""
            for event in stream.components(separatedBy: "\n\n") where event.hasPrefix("data: {") {
                let json = try JSONParser.parse(Array(event.dropFirst(6).utf8))
                streamed += json["choices"]?.array?.first?["delta"]?["content"]?.string ?? ""
            }
            #expect(streamed == text)
        }
    }

    @Test func ollamaFormatJSONAndSchema() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            for format in [#""json""#, Self.schema] {
                let request = #"{"model":"smollm2:135m",\#(Self.messages),"stream":false,"options":{"temperature":0,"num_predict":120},"format":\#(format)}"#
                let reply = try await client.execute(uri: "/api/chat", method: .post, headers: jsonHeaders, body: body(request)) {
                    #expect($0.status == .ok)
                    return parse($0)
                }
                let text = try #require(reply["message"]?["content"]?.string)
                // "json" leaves strings unbounded: a small model may still be inside one when the
                // token limit comes; an answer that ended by itself must be whole.
                if reply["done_reason"]?.string == "length" && format == #""json""# { continue }
                let value = try JSONParser.parse(Array(text.utf8))
                guard case .object = value else { Issue.record("not an object: \(text)"); continue }
                if format == Self.schema { try checkCity(text) }
            }
        }
    }

    @Test func requiredToolChoiceIsAlwaysACall() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let request = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"What's the weather in Paris?"}],"max_tokens":120,"temperature":0,"tools":\#(Self.tools),"tool_choice":"required""#
        try await app.test(.router) { client in
            let whole = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body(request + "}")) {
                #expect($0.status == .ok)
                return parse($0)
            }
            let choice = try #require(whole["choices"]?.array?.first)
            #expect(choice["finish_reason"]?.string == "tool_calls", "\(choice)")
            let call = try #require(choice["message"]?["tool_calls"]?.array?.first)
            #expect(call["type"]?.string == "function")
            #expect(call["id"]?.string?.isEmpty == false)
            #expect(call["function"]?["name"]?.string == "get_weather")
            let arguments = try #require(call["function"]?["arguments"]?.string)
            checkWeatherArguments(try JSONParser.parse(Array(arguments.utf8)))

            let calls = try #require(choice["message"]?["tool_calls"]?.array)

            // Streamed: id, type and name once per call, then argument fragments that join to the
            // same JSON, each delta naming its call by index.
            let stream = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                                  body: body(request + #","stream":true}"#)) { String(buffer: $0.body) }
            var streamedArguments: [Int: String] = [:]
            var names: [Int: [String]] = [:]
            var ids: [Int: String] = [:]
            var finish: String?
            for event in stream.components(separatedBy: "\n\n") where event.hasPrefix("data: {") {
                let json = try JSONParser.parse(Array(event.dropFirst(6).utf8))
                let choice = json["choices"]?.array?.first
                if let reason = choice?["finish_reason"]?.string { finish = reason }
                for delta in choice?["delta"]?["tool_calls"]?.array ?? [] {
                    let index = try #require(delta["index"]?.int)
                    if let name = delta["function"]?["name"]?.string { names[index, default: []].append(name) }
                    if let id = delta["id"]?.string {
                        #expect(ids[index] == nil, "the id comes once")
                        ids[index] = id
                    }
                    streamedArguments[index, default: ""] += delta["function"]?["arguments"]?.string ?? ""
                }
            }
            #expect(finish == "tool_calls")
            #expect(names.count == calls.count && ids.count == calls.count)
            for (index, call) in calls.enumerated() {
                #expect(names[index] == ["get_weather"])
                let whole = try JSONParser.parse(Array((call["function"]?["arguments"]?.string ?? "").utf8))
                #expect(try JSONParser.parse(Array((streamedArguments[index] ?? "").utf8)) == whole, "greedy: the same calls")
            }

            // Ollama: the same tools, the call as an object.
            let ollama = #"{"model":"smollm2:135m","messages":[{"role":"user","content":"What's the weather in Paris?"}],"stream":false,"options":{"temperature":0,"num_predict":120},"tools":\#(Self.tools)}"#
            let reply = try await client.execute(uri: "/api/chat", method: .post, headers: jsonHeaders, body: body(ollama)) {
                #expect($0.status == .ok)
                return parse($0)
            }
            // smollm2 may answer in prose here (tool_choice is always auto on Ollama's route);
            // when it calls, the call is well formed.
            for call in reply["message"]?["tool_calls"]?.array ?? [] {
                #expect(call["function"]?["name"]?.string == "get_weather")
                checkWeatherArguments(call["function"]?["arguments"] ?? .null)
            }
        }
    }
}

/// A call that only repeats one the conversation already answered is not passed on as a call.
@Suite struct AnsweredCallTests {
    @Test func repeatsOfAnsweredCallsAreRecognised() throws {
        let weather = ToolCall(id: "call_1", name: "get_weather", arguments: ["city": "Paris"])
        let turns: [ChatTurn] = [
            .plain(role: "user", content: "Weather in Paris?", name: nil),
            .toolCalls(content: nil, calls: [weather]),
            .toolResult(content: "{\"temp\": 21}", callID: "call_1", name: "get_weather"),
        ]
        let plan = ChatPlan(turns: turns, tools: ToolRequest(tools: [ToolDefinition(name: "get_weather")], choice: .auto, parallel: true))
        #expect(plan.repeatsAnsweredCall(ToolCall(name: "get_weather", arguments: ["city": "Paris"])))
        #expect(!plan.repeatsAnsweredCall(ToolCall(name: "get_weather", arguments: ["city": "Rome"])))
        #expect(plan.answeringInText.tools?.choice == ToolChoice.none)
        // Before any result comes back, nothing counts as a repeat.
        let asking = ChatPlan(turns: Array(turns.prefix(2)), tools: plan.tools)
        #expect(!asking.repeatsAnsweredCall(weather))
    }
}
