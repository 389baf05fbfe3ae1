import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
@testable import Server
import ToolCalls

let anthropicHeaders: HTTPFields = [.contentType: "application/json", HTTPField.Name("anthropic-version")!: "2023-06-01"]

/// The events of an Anthropic stream: each `event: NAME` line with its `data:` JSON, whose
/// `type` must be the event's name.
func anthropicEvents(_ text: String) throws -> [(name: String, data: JSONValue)] {
    #expect(text.hasSuffix("\n\n"), "the stream ends with a blank line")
    var events: [(String, JSONValue)] = []
    for block in text.components(separatedBy: "\n\n") where !block.isEmpty {
        let lines = block.components(separatedBy: "\n")
        try #require(lines.count == 2 && lines[0].hasPrefix("event: ") && lines[1].hasPrefix("data: "), "not an event: \(block)")
        let name = String(lines[0].dropFirst(7))
        let data = try JSONParser.parse(Array(lines[1].dropFirst(6).utf8))
        #expect(data["type"]?.string == name, "\(block)")
        events.append((name, data))
    }
    return events
}

/// `/v1/messages` without a model: every bad field is a 400 in Anthropic's error shape naming
/// the field, and the key may come as `x-api-key`.
@Suite struct AnthropicValidationTests {
    static let base = #""model":"smollm2:135m","max_tokens":16"#
    static let user = #""messages":[{"role":"user","content":"hi"}]"#
    static let chat = base + "," + user
    static let weather = #"{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}"#

    /// (route, body, what the error must name)
    static let badRequests: [(String, String, String)] = [
        ("/v1/messages", "{", "invalid JSON"),
        ("/v1/messages", "{\(user),\"model\":\"smollm2:135m\"}", "max_tokens"),
        ("/v1/messages", "{\(user),\"model\":\"smollm2:135m\",\"max_tokens\":-1}", "max_tokens"),
        ("/v1/messages", "{\(user),\"model\":\"smollm2:135m\",\"max_tokens\":\"8\"}", "max_tokens"),
        ("/v1/messages", #"{"max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#, "model"),
        ("/v1/messages", "{\(chat),\"temperature\":1.5}", "temperature"),
        ("/v1/messages", "{\(chat),\"top_p\":2}", "top_p"),
        ("/v1/messages", "{\(chat),\"top_k\":-1}", "top_k"),
        ("/v1/messages", "{\(chat),\"stop_sequences\":\"x\"}", "stop_sequences"),
        ("/v1/messages", "{\(chat),\"stop_sequences\":[1]}", "stop_sequences"),
        ("/v1/messages", "{\(chat),\"stream\":\"yes\"}", "stream"),
        ("/v1/messages", "{\(chat),\"frobnicate\":1}", "frobnicate"),
        ("/v1/messages", "{\(chat),\"container\":\"c1\"}", "container"),
        ("/v1/messages", "{\(chat),\"mcp_servers\":[{\"type\":\"url\"}]}", "mcp_servers"),
        ("/v1/messages", "{\(chat),\"metadata\":{\"user\":\"x\"}}", "metadata.user"),
        ("/v1/messages", "{\(chat),\"service_tier\":\"priority\"}", "service_tier"),
        ("/v1/messages", "{\(base)}", "messages"),
        ("/v1/messages", "{\(base),\"messages\":[]}", "messages"),
        ("/v1/messages", "{\(base),\"messages\":[{\"role\":\"tool\",\"content\":\"hi\"}]}", "messages[0].role"),
        ("/v1/messages", "{\(base),\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"),
        ("/v1/messages", "{\(base),\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "messages[0].content"),
        ("/v1/messages", "{\(base),\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":\"x\"}]}", "messages[0].name"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}"#, "messages[0].content[0]"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":[{"type":"text","text":"read"},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}"#, "messages[0].content[1]"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"forever"}}]}]}"#, "messages[0].content[0].cache_control.type"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}"#, "messages[0].content[0].type"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]}"#, "messages[1].content[0].type"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f"}]},{"role":"user","content":"x"}]}"#, "messages[1].content[0].input"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}"#, "messages[1].content"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}]}"#, "messages[2].content[0].content[0]"),
        ("/v1/messages", #"{\#(base),"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]}"#, "messages[2].content[0].is_error"),
        ("/v1/messages", "{\(chat),\"system\":5}", "system"),
        ("/v1/messages", "{\(chat),\"system\":[{\"type\":\"image\",\"source\":{}}]}", "system[0]"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":5}]}", "tools[0].type"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"type\":\"bash_20250124\",\"name\":\"bash\"}]}", "tools[0].type"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"name\":\"f\"}]}", "tools[0].input_schema"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"name\":\"f g\",\"input_schema\":{\"type\":\"object\"}}]}", "tools[0].name"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"uniqueItems\":true}}}}]}", "tools[0].input_schema"),
        ("/v1/messages", "{\(chat),\"tools\":[\(weather),\(weather)]}", "tools[1].name"),
        ("/v1/messages", "{\(chat),\"tools\":[{\"name\":\"f\",\"input_schema\":{},\"input_examples\":[{}]}]}", "tools[0].input_examples"),
        ("/v1/messages", "{\(chat),\"tool_choice\":{\"type\":\"any\"}}", "tool_choice.type"),
        ("/v1/messages", "{\(chat),\"tools\":[\(weather)],\"tool_choice\":{\"type\":\"tool\",\"name\":\"g\"}}", "tool_choice.name"),
        ("/v1/messages", "{\(chat),\"tools\":[\(weather)],\"tool_choice\":{\"type\":\"sometimes\"}}", "tool_choice.type"),
        ("/v1/messages", "{\(chat),\"tools\":[\(weather)],\"tool_choice\":\"auto\"}", "tool_choice"),
        ("/v1/messages", "{\(chat),\"tools\":[\(weather)],\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":1}}", "tool_choice.disable_parallel_tool_use"),
        ("/v1/messages", "{\(chat),\"thinking\":{\"type\":\"enabled\"}}", "thinking.budget_tokens"),
        ("/v1/messages", "{\(chat),\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":100}}", "thinking.budget_tokens"),
        ("/v1/messages", "{\(chat),\"thinking\":{\"type\":\"deep\"}}", "thinking.type"),
        ("/v1/messages", "{\(chat),\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"array\",\"uniqueItems\":true}}}}", "output_config.format.schema"),
        ("/v1/messages", "{\(chat),\"output_config\":{\"format\":{\"type\":\"yaml\"}}}", "output_config.format.type"),
        ("/v1/messages", "{\(chat),\"output_config\":{\"effort\":\"extreme\"}}", "output_config.effort"),
        ("/v1/messages/count_tokens", "{\(chat)}", "max_tokens"),
        ("/v1/messages/count_tokens", #"{"model":"smollm2:135m"}"#, "messages"),
        ("/v1/messages/count_tokens", "{\"model\":\"smollm2:135m\",\(user),\"tools\":[{\"type\":\"web_fetch_20250910\",\"name\":\"web_fetch\"}]}", "tools[0].type"),
    ]

    @Test func badRequestsAreRefusedInAnthropicsShape() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for (route, text, field) in Self.badRequests {
                try await client.execute(uri: route, method: .post, headers: anthropicHeaders, body: body(text)) { response in
                    #expect(response.status == .badRequest, "\(text) → \(response.status)")
                    let json = parse(response)
                    #expect(json["type"]?.string == "error", "\(text)")
                    #expect(json["error"]?["type"]?.string == "invalid_request_error", "\(text)")
                    let message = json["error"]?["message"]?.string
                    #expect(message?.contains(field) == true, "\(text): message '\(message ?? "none")' does not name \(field)")
                }
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    /// Fields Anthropic's clients send that change nothing here are accepted (a 404 for the
    /// missing model shows the request got past validation).
    @Test func acceptedFieldsReachTheModelLookup() async throws {
        let app = try makeApplication()
        // (fields, whether count_tokens takes them too)
        let accepted: [(String, Bool)] = [
            (#""system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral","ttl":"1h"}}]"#, true),
            (#""thinking":{"type":"enabled","budget_tokens":2048},"cache_control":{"type":"ephemeral"}"#, true),
            (#""thinking":{"type":"adaptive"},"output_config":{"effort":"low"},"speed":"standard","context_management":{"edits":[]}"#, true),
            (#""tools":[{"name":"f","description":"does f","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"},"strict":true}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}"#, true),
            (#""tools":[{"type":"custom","name":"f","input_schema":{}}],"tool_choice":{"type":"none"}"#, true),
            (#""output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}"#, true),
            (#""metadata":{"user_id":"u-1"},"service_tier":"auto","inference_geo":"eu","thinking":{"type":"disabled"}"#, false),
            (#""stop_sequences":["\n\n"],"top_k":40,"top_p":0.9,"temperature":0,"stream":true"#, false),
        ]
        try await app.test(.router) { client in
            for (fields, countable) in accepted {
                var requests = [("/v1/messages", #"{"model":"nope:1b","max_tokens":8,\#(Self.user),\#(fields)}"#)]
                if countable { requests.append(("/v1/messages/count_tokens", #"{"model":"nope:1b",\#(Self.user),\#(fields)}"#)) }
                for (route, text) in requests {
                    try await client.execute(uri: route, method: .post, headers: anthropicHeaders, body: body(text)) { response in
                        #expect(response.status == .notFound, "\(route) \(text): \(String(buffer: response.body))")
                        #expect(parse(response)["error"]?["type"]?.string == "not_found_error")
                    }
                }
            }
        }
    }

    @Test func xAPIKeyIsAnAlternativeToBearer() async throws {
        let app = try makeApplication {
            $0.apiKey = "s3cret-key"
            $0.allowedOrigins = ["http://localhost:3000"]
        }
        let request = #"{"model":"nope:1b","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#
        let keyHeader = HTTPField.Name("x-api-key")!
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/messages", method: .post, headers: anthropicHeaders, body: body(request)) { response in
                #expect(response.status == .unauthorized)
                let json = parse(response)
                #expect(json["type"]?.string == "error" && json["error"]?["type"]?.string == "authentication_error")
            }
            for wrong in ["s3cret-ke", "s3cret-keyy", "Bearer s3cret-key", ""] {
                var headers = anthropicHeaders
                headers[keyHeader] = wrong
                try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: body(request)) {
                    #expect($0.status == .unauthorized, "accepted x-api-key '\(wrong)'")
                }
            }
            var headers = anthropicHeaders
            headers[keyHeader] = "s3cret-key"
            // Past the key: the unknown model is what is refused now.
            try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: body(request)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: [keyHeader: "s3cret-key"]) { #expect($0.status == .ok) }
            var bearer = anthropicHeaders
            bearer[.authorization] = "Bearer s3cret-key"
            try await client.execute(uri: "/v1/messages", method: .post, headers: bearer, body: body(request)) {
                #expect($0.status == .notFound)
            }
            // A right x-api-key beside a wrong bearer token: one right key is enough.
            headers[.authorization] = "Bearer wrong"
            try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: body(request)) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/v1/messages", method: .options,
                                     headers: [.origin: "http://localhost:3000", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .noContent)
                let allowed = response.headers[.accessControlAllowHeaders]?.lowercased() ?? ""
                for header in ["x-api-key", "anthropic-version", "anthropic-beta", "authorization", "content-type"] {
                    #expect(allowed.contains(header), "\(header) not in \(allowed)")
                }
            }
        }
    }

    @Test func errorShapesAndRouteLabels() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/messages/batches", method: .post, headers: anthropicHeaders, body: body("{}")) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["type"]?.string == "not_found_error")
            }
            // Claude Code posts to `/v1/messages?beta=true`: the route, not a missing one, answers.
            try await client.execute(uri: "/v1/messages?beta=true", method: .post, headers: anthropicHeaders,
                                     body: body(#"{"model":"nope:1b","max_tokens":8,\#(AnthropicValidationTests.user)}"#)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["message"]?.string?.contains("nope:1b") == true, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders, body: body("{")) { response in
                #expect(parse(response)["error"]?["param"] != nil, "the OpenAI routes keep OpenAI's shape")
            }
        }
        #expect(ErrorMiddleware<HearthRequestContext>.routeLabel("/v1/messages") == "/v1/messages")
        #expect(ErrorMiddleware<HearthRequestContext>.routeLabel("/v1/messages/count_tokens") == "/v1/messages/count_tokens")
        let failed = HearthServer.anthropicErrorEvent(APIError(.internalServerError, "generation failed: out of memory"))
        #expect(failed == #"event: error\#ndata: {"type":"error","error":{"type":"api_error","message":"generation failed: out of memory"}}\#n\#n"#)
        let events = try anthropicEvents(HearthServer.anthropicErrorEvent(APIError(.serviceUnavailable, "the queue is full")))
        #expect(events.map(\.name) == ["error"] && events[0].data["error"]?["type"]?.string == "overloaded_error")
        #expect(APIError(.serviceUnavailable, "busy").anthropicType == "overloaded_error")
        #expect(APIError(.internalServerError, "broken").anthropicType == "api_error")
        #expect(APIError(.contentTooLarge, "big").anthropicType == "request_too_large")
    }
}

/// Reading conversations and writing answers, without a model.
@Suite struct AnthropicShapeTests {
    func conversation(_ text: String) throws -> AnthropicConversation {
        try AnthropicRequest.conversation(RequestFields(try JSONParser.parse(Array(text.utf8))))
    }

    @Test func toolConversationBecomesTurns() throws {
        let read = try conversation(#"""
            {"system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools."}],
             "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
             "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "user", "content": [{"type": "text", "text": "And be quick."}]},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                    {"type": "text", "text": "Thanks"}]},
                {"role": "assistant", "content": "It is"}]}
            """#)
        let turns = read.plan.turns
        try #require(turns.count == 5, "\(turns)")
        guard case .plain("system", "Be brief.\nUse tools.", nil, nil) = turns[0] else { Issue.record("\(turns[0])"); return }
        guard case .plain("user", "Weather in Paris?\n\nAnd be quick.", nil, nil) = turns[1] else { Issue.record("\(turns[1])"); return }
        // The thinking block travels with its turn, for the template (the signature is not kept).
        guard case .toolCalls("Checking.", let calls, "hm"?) = turns[2] else { Issue.record("\(turns[2])"); return }
        #expect(calls == [ToolCall(id: "toolu_1", name: "get_weather", arguments: ["city": "Paris"])])
        guard case .toolResult("18C", "toolu_1"?, "get_weather"?) = turns[3] else { Issue.record("\(turns[3])"); return }
        guard case .plain("user", "Thanks", nil, nil) = turns[4] else { Issue.record("\(turns[4])"); return }
        #expect(read.prefill == "It is", "a final assistant message is continued, not repeated")
        #expect(read.plan.tools?.tools.map(\.name) == ["get_weather"])
        #expect(read.plan.tools?.choice == .auto && read.plan.tools?.parallel == true)
    }

    @Test func errorResultsAndChoicesAreKept() throws {
        let read = try conversation(#"""
            {"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true},
             "messages": [{"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "disk full", "is_error": true}]}]}
            """#)
        guard case .toolResult("Error: disk full", "a"?, "f"?)? = read.plan.turns.last else { Issue.record("\(read.plan.turns)"); return }
        #expect(read.prefill == nil)
        #expect(read.plan.tools?.choice == .function("f") && read.plan.tools?.parallel == false)
        let any = try conversation(#"{"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "go"}]}"#)
        #expect(any.plan.tools?.choice == .required)
    }

    @Test func stopReasons() {
        func stop(_ finish: FinishReason, _ sequence: String? = nil, tools: Bool = false, max: Int = 8) -> AnthropicStop {
            AnthropicStop(finishReason: finish, stopSequence: sequence, generatedTokens: 3, calledTools: tools, maxTokens: max)
        }
        #expect(stop(.stop) == AnthropicStop(reason: "end_turn"))
        #expect(stop(.stop, tools: true) == AnthropicStop(reason: "tool_use"))
        #expect(stop(.stop, "###") == AnthropicStop(reason: "stop_sequence", sequence: "###"))
        #expect(stop(.length, max: 3) == AnthropicStop(reason: "max_tokens"))
        #expect(stop(.length, max: 8) == AnthropicStop(reason: "model_context_window_exceeded"), "the context filled before max_tokens")
    }

    @Test func blockEventsFollowAnthropicsOrder() throws {
        var blocks = AnthropicBlockStream()
        var text = blocks.text("Let me ") + blocks.text("") + blocks.text("check.")
        text += blocks.startToolUse(id: "toolu_x", name: "get_weather") + blocks.toolInput(#"{"city":"#) + blocks.toolInput(#""Paris"}"#)
        text += blocks.close() + blocks.close()
        let events = try anthropicEvents(text.joined())
        #expect(events.map(\.name) == ["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                                       "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"])
        #expect(events.map { $0.data["index"]?.int } == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(events[0].data["content_block"] == ["type": "text", "text": ""])
        #expect(events[2].data["delta"] == ["type": "text_delta", "text": "check."])
        #expect(events[4].data["content_block"] == ["type": "tool_use", "id": "toolu_x", "name": "get_weather", "input": .object([:])])
        #expect(events[6].data["delta"] == ["type": "input_json_delta", "partial_json": #""Paris"}"#])
    }

    @Test func claudeCodesBillingStampDoesNotBreakThePrefixCache() throws {
        let first = "x-anthropic-billing-header: cc_version=2.1.101.e51; cc_entrypoint=cli; cch=a5145;\nYou are Claude Code."
        let second = first.replacingOccurrences(of: "cch=a5145", with: "cch=9be01")
        #expect(AnthropicRequest.steadyBillingHeader(first) == AnthropicRequest.steadyBillingHeader(second))
        #expect(AnthropicRequest.steadyBillingHeader(first).hasSuffix("cch=00000;\nYou are Claude Code."))
        let plain = "You are helpful. cch=a5145;"
        #expect(AnthropicRequest.steadyBillingHeader(plain) == plain, "only Claude Code's header line is touched")
        let read = try conversation(#"{"system": [{"type": "text", "text": "x-anthropic-billing-header: cch=12345;"}, {"type": "text", "text": "Hi"}], "messages": [{"role": "user", "content": "x"}]}"#)
        guard case .plain("system", "x-anthropic-billing-header: cch=00000;\nHi", nil, nil)? = read.plan.turns.first else {
            Issue.record("\(read.plan.turns)")
            return
        }
    }

    @Test func toolUseIDs() {
        #expect(HearthServer.anthropicToolUseID("call_AbC123") == "toolu_AbC123")
        #expect(HearthServer.anthropicToolUseID("x9/z") == "toolu_x9z")
        #expect(HearthServer.anthropicToolUseID("call_").hasPrefix("toolu_") && HearthServer.anthropicToolUseID("call_").count > 10)
    }
}

/// `/v1/messages` end to end on smollm2:135m from the test store.
@Suite(.serialized) struct AnthropicRealModelTests {
    static let question = #""model":"smollm2:135m","system":"You are terse.","messages":[{"role":"user","content":"Name three colours."}],"temperature":0"#
    static let weatherTool = #"[{"name":"get_weather","description":"Current weather in a city","input_schema":{"type":"object","properties":{"city":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}}]"#

    func post(_ client: some TestClientProtocol, _ text: String, route: String = "/v1/messages") async throws -> JSONValue {
        try await client.execute(uri: route, method: .post, headers: anthropicHeaders, body: body(text)) { response in
            #expect(response.status == .ok, "\(text) → \(String(buffer: response.body))")
            return parse(response)
        }
    }

    func stream(_ client: some TestClientProtocol, _ text: String) async throws -> [(name: String, data: JSONValue)] {
        let raw = try await client.execute(uri: "/v1/messages", method: .post, headers: anthropicHeaders, body: body(text)) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            return String(buffer: response.body)
        }
        return try anthropicEvents(raw)
    }

    /// The text of a message's text blocks.
    func text(_ message: JSONValue) -> String {
        (message["content"]?.array ?? []).compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined()
    }

    @Test func messageAndItsStreamAgree() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let whole = try await post(client, "{\(Self.question),\"max_tokens\":24}")
            #expect(whole["type"]?.string == "message" && whole["role"]?.string == "assistant" && whole["model"]?.string == "smollm2:135m")
            #expect(whole["id"]?.string?.hasPrefix("msg_") == true)
            let answer = text(whole)
            #expect(!answer.isEmpty)
            #expect(["end_turn", "max_tokens"].contains(whole["stop_reason"]?.string ?? ""))
            #expect(whole["stop_sequence"] == .null)
            let usage = try #require(whole["usage"])
            let output = try #require(usage["output_tokens"]?.int)
            let input = try #require(usage["input_tokens"]?.int)
            let cached = try #require(usage["cache_read_input_tokens"]?.int)
            #expect(output > 0 && output <= 24 && input + cached > 10 && usage["cache_creation_input_tokens"]?.int == 0)

            let events = try await stream(client, "{\(Self.question),\"max_tokens\":24,\"stream\":true}")
            let names = events.map(\.name)
            #expect(Array(names.prefix(4)) == ["message_start", "ping", "content_block_start", "content_block_delta"])
            #expect(Array(names.suffix(3)) == ["content_block_stop", "message_delta", "message_stop"])
            let start = try #require(events.first?.data["message"])
            #expect(start["content"] == [] && start["stop_reason"] == .null && start["id"]?.string?.hasPrefix("msg_") == true)
            #expect(start["usage"]?["input_tokens"]?.int == input + cached, "message_start counts the whole prompt")
            let streamed = events.filter { $0.name == "content_block_delta" }.compactMap { $0.data["delta"]?["text"]?.string }.joined()
            #expect(streamed == answer, "greedy: the stream spells the same answer")
            let delta = try #require(events.first { $0.name == "message_delta" }?.data)
            #expect(delta["delta"]?["stop_reason"] == whole["stop_reason"])
            #expect(delta["usage"]?["output_tokens"]?.int == output)
            let cachedNow = delta["usage"]?["cache_read_input_tokens"]?.int ?? 0
            #expect(cachedNow > 0 && delta["usage"]?["input_tokens"]?.int == input + cached - cachedNow,
                    "the same prompt again comes from the prefix cache, and the counts say so")
        }
    }

    @Test func stopSequencesAndMaxTokensAreReported() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let free = text(try await post(client, "{\(Self.question),\"max_tokens\":24}"))
            // A word from the greedy answer: asked to stop there, the same answer ends before it.
            let words = free.split(whereSeparator: { !$0.isLetter }).filter { $0.count >= 3 }
            let stop = String(try #require(words.dropFirst().first, "too short an answer to stop in: \(free)"))
            let expected = String(free[..<free.range(of: stop)!.lowerBound])
            let request = "{\(Self.question),\"max_tokens\":24,\"stop_sequences\":[\"zzqx\",\"\(stop)\"]"
            let stopped = try await post(client, request + "}")
            #expect(stopped["stop_reason"]?.string == "stop_sequence")
            #expect(stopped["stop_sequence"]?.string == stop)
            #expect(text(stopped) == expected)
            let events = try await stream(client, request + ",\"stream\":true}")
            let delta = try #require(events.first { $0.name == "message_delta" }?.data["delta"])
            #expect(delta == ["stop_reason": "stop_sequence", "stop_sequence": .string(stop)])

            let short = try await post(client, "{\(Self.question),\"max_tokens\":3}")
            #expect(short["stop_reason"]?.string == "max_tokens" && short["usage"]?["output_tokens"]?.int == 3)
            // max_tokens 0 computes the prompt (into the prefix cache) and answers nothing.
            let warm = try await post(client, "{\(Self.question),\"max_tokens\":0}")
            #expect(warm["content"] == [] && warm["stop_reason"]?.string == "max_tokens" && warm["usage"]?["output_tokens"]?.int == 0)
        }
    }

    @Test func countTokensIsThePromptGenerationComputes() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let conversations = [
            #""system":"You are terse.","messages":[{"role":"user","content":"Name three colours."}]"#,
            #""system":"You are terse.","messages":[{"role":"user","content":"Name three colours."}],"tools":\#(Self.weatherTool)"#,
            // A prefill: its tokens are part of the prompt.
            #""messages":[{"role":"user","content":"Name three colours."},{"role":"assistant","content":"Red,"}]"#,
        ]
        try await app.test(.router) { client in
            var counts: [Int] = []
            for conversation in conversations {
                let counted = try await post(client, #"{"model":"smollm2:135m",\#(conversation)}"#, route: "/v1/messages/count_tokens")
                #expect(counted.object?.keys == ["input_tokens"])
                let usage = try #require(try await post(client, #"{"model":"smollm2:135m","max_tokens":1,\#(conversation)}"#)["usage"])
                let prompt = (usage["input_tokens"]?.int ?? 0) + (usage["cache_read_input_tokens"]?.int ?? 0)
                #expect(counted["input_tokens"]?.int == prompt, "\(conversation)")
                counts.append(prompt)
            }
            #expect(counts[1] > counts[0] + 20, "the tools are part of the prompt: \(counts)")
        }
    }

    @Test func forcedToolUseWholeStreamedAndAnswered() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let request = #"{"model":"smollm2:135m","max_tokens":80,"temperature":0,"tools":\#(Self.weatherTool),"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"What is the weather in Paris?"}]"#
        try await app.test(.router) { client in
            let whole = try await post(client, request + "}")
            #expect(whole["stop_reason"]?.string == "tool_use")
            let uses = (whole["content"]?.array ?? []).filter { $0["type"]?.string == "tool_use" }
            try #require(uses.count == 1, "\(whole)")
            let use = uses[0]
            #expect(use["name"]?.string == "get_weather" && use["id"]?.string?.hasPrefix("toolu_") == true)
            #expect(use["input"]?["city"]?.string != nil && ["celsius", "fahrenheit"].contains(use["input"]?["unit"]?.string ?? ""), "\(use)")

            let events = try await stream(client, request + ",\"stream\":true}")
            let started = try #require(events.first { $0.name == "content_block_start" && $0.data["content_block"]?["type"]?.string == "tool_use" })
            #expect(started.data["content_block"]?["name"]?.string == "get_weather" && started.data["content_block"]?["input"] == .object([:]))
            let index = started.data["index"]
            let json = events.filter { $0.name == "content_block_delta" && $0.data["index"] == index }
                .compactMap { $0.data["delta"]?["partial_json"]?.string }.joined()
            #expect(try JSONParser.parse(Array(json.utf8)) == use["input"], "the streamed input is the whole answer's")
            #expect(events.contains { $0.name == "content_block_stop" && $0.data["index"] == index })
            #expect(events.first { $0.name == "message_delta" }?.data["delta"]?["stop_reason"]?.string == "tool_use")

            // The result goes back as a tool_result block; the answer is a message again.
            let id = try #require(use["id"]?.string)
            let turn = #"[{"role":"user","content":"What is the weather in Paris?"},{"role":"assistant","content":[\#(use.serialized)]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"\#(id)","content":"18 degrees, sunny"}]}]"#
            let answer = try await post(client, #"{"model":"smollm2:135m","max_tokens":40,"temperature":0,"tools":\#(Self.weatherTool),"messages":\#(turn)}"#)
            #expect(answer["type"]?.string == "message" && !(answer["content"]?.array ?? []).isEmpty, "\(answer)")
        }
    }

    @Test func outputFormatConstrainsTheAnswer() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":20},"population":{"type":"integer","minimum":0}},"required":["city","population"],"additionalProperties":false}"#
        try await app.test(.router) { client in
            let reply = try await post(client, #"{"model":"smollm2:135m","max_tokens":120,"temperature":0,"messages":[{"role":"user","content":"Give me a city and its population as JSON."}],"output_config":{"format":{"type":"json_schema","schema":\#(schema)}}}"#)
            let value = try JSONParser.parse(Array(text(reply).utf8))
            #expect(value.object?.keys == ["city", "population"], "\(text(reply))")
            #expect(reply["stop_reason"]?.string == "end_turn")
        }
    }
}

extension JSONValue {
    var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
}
