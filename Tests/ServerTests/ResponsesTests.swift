import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
@testable import Server
import ToolCalls

/// `POST /v1/responses`: input items become the chat turns a template renders, and every field
/// the route cannot honour is refused naming it.
@Suite struct ResponseInputTests {
    func items(_ text: String) throws -> [ResponseItem] {
        try ResponseFields.inputItems(try JSONParser.parse(Array(text.utf8)))
    }

    @Test func stringInputIsOneUserMessageAfterTheInstructions() throws {
        let items = try ResponseFields.inputItems("Hello")
        #expect(items.count == 1 && items[0].id.hasPrefix("msg_"))
        let turns = try ResponseFields.turns(instructions: "Be brief.", items: items)
        #expect(turns.count == 2)
        guard case .plain("system", "Be brief.", nil, nil) = turns[0], case .plain("user", "Hello", nil, nil) = turns[1] else {
            Issue.record("\(turns)")
            return
        }
        #expect(items[0].json == .object(["id": .string(items[0].id), "type": "message", "status": "completed", "role": "user",
                                          "content": [.object(["type": "input_text", "text": "Hello"])]]))
    }

    @Test func itemsBecomeTurns() throws {
        let list = try items(#"""
        [{"role":"developer","content":"Answer with tools."},
         {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather in Paris"},{"type":"input_text","text":"and Rome?"}]},
         {"type":"reasoning","id":"rs_1","summary":[]},
         {"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Let me check.","annotations":[],"logprobs":[]}]},
         {"type":"function_call","id":"fc_1","call_id":"call_a","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},
         {"type":"function_call","call_id":"call_b","name":"get_weather","arguments":"{\"city\":\"Rome\"}"},
         {"type":"function_call_output","call_id":"call_b","output":"18 C"},
         {"type":"function_call_output","call_id":"call_a","output":[{"type":"input_text","text":"21 C"}]}]
        """#)
        #expect(list.count == 8)
        let turns = try ResponseFields.turns(instructions: nil, items: list)
        #expect(turns.count == 5, "the reasoning item is skipped; the message and both calls are one assistant turn")
        guard case .plain("system", "Answer with tools.", _, _) = turns[0],
              case .plain("user", "Weather in Paris\nand Rome?", _, _) = turns[1],
              case .toolCalls("Let me check."?, let calls, _) = turns[2],
              case .toolResult("18 C", "call_b"?, "get_weather"?) = turns[3],
              case .toolResult("21 C", "call_a"?, "get_weather"?) = turns[4]
        else {
            Issue.record("\(turns)")
            return
        }
        #expect(calls.map(\.id) == ["call_a", "call_b"])
        #expect(calls.map(\.arguments) == [["city": "Paris"], ["city": "Rome"]])
        // Items keep their ids (or get one) for GET …/input_items.
        #expect(list[3].id == "msg_1" && list[4].id == "fc_1" && list[5].id.hasPrefix("fc_") && list[6].id.hasPrefix("fco_"))
        #expect(list[2].json["summary"] == .array([]))
    }

    @Test func anOutputMustAnswerAnEarlierCall() throws {
        let list = try items(#"[{"role":"user","content":"hi"},{"type":"function_call_output","call_id":"call_x","output":"42"}]"#)
        // Items inherited from a previous response come first; the request's own are named by their index in `input`.
        for (first, field) in [(0, "input[1].call_id"), (1, "input[0].call_id")] {
            do {
                _ = try ResponseFields.turns(instructions: nil, items: list, firstRequestItem: first)
                Issue.record("an output without its call was accepted")
            } catch let error as APIError {
                #expect(error.parameter == field)
            }
        }
    }

    @Test func allowedToolsNarrowWhatTheModelSees() throws {
        let (tools, echo) = try ResponseFields.tools(try JSONParser.parse(Array(#"""
        [{"type":"function","name":"a","parameters":{"type":"object","properties":{}}},{"type":"function","name":"b","strict":false}]
        """#.utf8)))
        #expect(tools.map(\.name) == ["a", "b"])
        #expect(echo.map { $0["strict"] } == [.bool(true), .bool(false)], "strict defaults to true, as the Responses API has it")
        let choice = try ResponseFields.toolChoice(
            try JSONParser.parse(Array(#"{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"b"}]}"#.utf8)), tools: tools)
        #expect(choice.choice == .required)
        #expect(choice.offered.map(\.name) == ["b"])
        let named = try ResponseFields.toolChoice(.object(["type": "function", "name": "a"]), tools: tools)
        #expect(named.choice == .function("a") && named.offered.count == 2)
    }

    @Test func textFormats() throws {
        let schema = #"{"format":{"type":"json_schema","name":"city","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"}}}}}"#
        let (format, echo) = try ResponseFields.textFormat(try JSONParser.parse(Array(schema.utf8)))
        guard case .schema(let value)? = format else { Issue.record("no schema"); return }
        #expect(value["properties"]?["name"] != nil)
        #expect(echo["format"]?["name"] == "city" && echo["format"]?["strict"] == true)
        #expect(try ResponseFields.textFormat(nil).format == nil)
        guard case .jsonObject? = try ResponseFields.textFormat(.object(["format": .object(["type": "json_object"])])).format else {
            Issue.record("json_object")
            return
        }
    }

    static let input = #""model":"smollm2:135m","input":"hi""#

    /// (body, the field the error must name)
    static let badRequests: [(String, String)] = [
        ("{\(input),\"frobnicate\":1}", "frobnicate"),
        ("{\(input),\"conversation\":\"conv_1\"}", "conversation"),
        ("{\(input),\"background\":true}", "background"),
        (#"{"model":"smollm2:135m"}"#, "input"),
        (#"{"model":"smollm2:135m","input":5}"#, "input"),
        (#"{"model":"smollm2:135m","input":[]}"#, "input"),
        (#"{"input":"hi"}"#, "model"),
        (#"{"model":"smollm2:135m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:x"}]}]}"#, "input[0].content[0].type"),
        (#"{"model":"smollm2:135m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}"#, "input[0].content[0].type"),
        (#"{"model":"smollm2:135m","input":[{"role":"wizard","content":"hi"}]}"#, "input[0].role"),
        (#"{"model":"smollm2:135m","input":[{"content":"hi"}]}"#, "input[0].type"),
        (#"{"model":"smollm2:135m","input":[{"role":"user","content":"hi","colour":"red"}]}"#, "input[0].colour"),
        (#"{"model":"smollm2:135m","input":[{"type":"computer_call","call_id":"c"}]}"#, "input[0].type"),
        (#"{"model":"smollm2:135m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"not json"}]}"#, "input[0].arguments"),
        (#"{"model":"smollm2:135m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}"#, "input[0].call_id"),
        (#"{"model":"smollm2:135m","input":[{"type":"function_call_output","call_id":"nope","output":"1"}]}"#, "input[0].call_id"),
        ("{\(input),\"tools\":[{\"type\":\"web_search\"}]}", "tools[0].type"),
        ("{\(input),\"tools\":[{\"type\":\"file_search\",\"vector_store_ids\":[\"v\"]}]}", "tools[0].type"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"name\":\"f g\"}]}", "tools[0].name"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", "tools[0].function"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"defer_loading\":true}]}", "tools[0].defer_loading"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"not\":{}}}]}", "tools[0].parameters"),
        ("{\(input),\"tool_choice\":\"required\"}", "tool_choice"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"}}", "tool_choice.name"),
        ("{\(input),\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"tool_choice\":{\"type\":\"web_search_preview\"}}", "tool_choice.type"),
        ("{\(input),\"text\":{\"format\":{\"type\":\"yaml\"}}}", "text.format.type"),
        ("{\(input),\"text\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}}", "text.format.name"),
        ("{\(input),\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\"}}}", "text.format.schema"),
        ("{\(input),\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\",\"schema\":{\"type\":\"array\",\"uniqueItems\":true}}}}", "uniqueItems"),
        ("{\(input),\"text\":{\"verbosity\":\"low\"}}", "text.verbosity"),
        ("{\(input),\"truncation\":\"sometimes\"}", "truncation"),
        ("{\(input),\"include\":[\"file_search_call.results\"]}", "include[0]"),
        ("{\(input),\"top_logprobs\":3}", "top_logprobs"),
        ("{\(input),\"max_output_tokens\":0}", "max_output_tokens"),
        ("{\(input),\"temperature\":3}", "temperature"),
        ("{\(input),\"store\":\"yes\"}", "store"),
        ("{\(input),\"reasoning\":{\"effort\":\"extreme\"}}", "reasoning.effort"),
        ("{\(input),\"metadata\":{\"k\":1}}", "metadata.k"),
        ("{\(input),\"metadata\":{\(((0..<17).map { "\"k\($0)\":\"v\"" }).joined(separator: ","))}}", "metadata"),
        ("{\(input),\"stream_options\":{\"include_obfuscation\":false}}", "stream_options"),
    ]

    @Test func badRequestsAreRefusedNamingTheField() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            for (text, field) in Self.badRequests {
                try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(text)) { response in
                    #expect(response.status == .badRequest, "\(text) → \(response.status)")
                    let message = parse(response)["error"]?["message"]?.string
                    #expect(message?.contains(field) == true, "\(text): message '\(message ?? "none")' does not name \(field)")
                }
            }
            // Everything valid: the next stop is the model, which this store does not have.
            let valid = #"{"model":"nope:1b","input":[{"role":"user","content":"hi"}],"instructions":"x","store":false,"metadata":{"a":"b"},"#
                + #""reasoning":{"effort":"low"},"include":["message.output_text.logprobs"],"top_logprobs":2,"truncation":"auto","#
                + #""tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}}},"strict":true}],"#
                + #""tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,"text":{"format":{"type":"json_object"}}}"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(valid)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["param"]?.string == "model")
            }
        }
    }
}

/// Stored responses: bounded, least recently used out, and behind `previous_response_id`,
/// `GET`/`DELETE /v1/responses/{id}` and `GET …/input_items`.
@Suite struct ResponseStoreTests {
    func stored(_ text: String, output: [ResponseItem] = []) -> StoredResponse {
        let input = [ResponseItem(id: ResponseItem.makeID("msg"), kind: .message(role: "user", parts: [ContentPart(type: "input_text", text: text)]))]
        return StoredResponse(object: .object(["object": "response", "text": .string(text)]), inputItems: input, outputItems: output)
    }

    @Test func leastRecentlyUsedGoFirst() {
        let store = ResponseStore(maximumCount: 3)
        for id in ["a", "b", "c"] { store.insert(stored(id), id: id) }
        _ = store.response("a")
        store.insert(stored("d"), id: "d")
        #expect(store.count == 3)
        #expect(store.response("b") == nil, "b was the least recently used")
        #expect(store.response("a") != nil && store.response("c") != nil && store.response("d") != nil)
        #expect(store.delete("a") && !store.delete("a"))
        #expect(store.count == 2)
    }

    @Test func outputItemsAreFoundByIdWhileTheirResponseIsKept() {
        let store = ResponseStore(maximumCount: 2)
        let answer = ResponseItem(id: "msg_a", kind: .message(role: "assistant", parts: [ContentPart(type: "output_text", text: "Hi")]))
        store.insert(stored("a", output: [answer]), id: "a")
        guard case .message("assistant", let parts)? = store.outputItem("msg_a")?.kind else { Issue.record("msg_a not found"); return }
        #expect(parts.map(\.text) == ["Hi"])
        #expect(store.outputItem("msg_b") == nil)
        store.insert(stored("b"), id: "b")
        _ = store.outputItem("msg_a")
        store.insert(stored("c"), id: "c")
        #expect(store.response("a") != nil && store.response("b") == nil, "a lookup by item keeps its response")
        #expect(store.delete("a") && store.outputItem("msg_a") == nil)
    }

    @Test func theByteBudgetBounds() {
        let one = stored(String(repeating: "x", count: 1000)).approximateBytes
        let store = ResponseStore(maximumCount: 100, maximumBytes: one * 3)
        for index in 0..<10 { store.insert(stored(String(repeating: "x", count: 1000)), id: "r\(index)") }
        #expect(store.count == 3 && store.bytes <= one * 3)
        #expect(store.response("r9") != nil && store.response("r6") == nil)
        store.insert(stored(String(repeating: "y", count: one * 4)), id: "huge")
        #expect(store.response("huge") == nil, "an entry larger than the whole budget is not kept")
        #expect(store.delete("r9"))
        #expect(store.bytes == one * 2)
    }

    func server() throws -> (HearthServer, some ApplicationProtocol) {
        var configuration = ServerConfiguration()
        configuration.port = 0
        let server = HearthServer(configuration: configuration, store: try emptyStore())
        return (server, Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0))))
    }

    @Test func storedResponsesAreListedContinuedAndDeleted() async throws {
        let (server, app) = try server()
        let call = ResponseItem(id: "fc_1", kind: .functionCall(callID: "call_1", name: "get_weather", arguments: #"{"city":"Paris"}"#))
        var conversation = stored("Weather in Paris?", output: [call])
        conversation.inputItems.insert(ResponseItem(id: "msg_0", kind: .message(role: "system", parts: [ContentPart(type: "input_text", text: "Be brief.")])), at: 0)
        let first = conversation
        server.storedResponses.insert(first, id: "resp_1")
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/responses/resp_1", method: .get) { response in
                #expect(response.status == .ok)
                #expect(parse(response) == first.object)
            }
            try await client.execute(uri: "/v1/responses/resp_1/input_items", method: .get) { response in
                let list = parse(response)
                #expect(list["object"] == "list" && list["has_more"] == false)
                #expect(list["data"]?.array?.map { $0["id"] } == [first.inputItems[1].json["id"], "msg_0"], "newest first by default")
                #expect(list["first_id"] == first.inputItems[1].json["id"] && list["last_id"] == "msg_0")
            }
            try await client.execute(uri: "/v1/responses/resp_1/input_items?order=asc&limit=1", method: .get) { response in
                let list = parse(response)
                #expect(list["data"]?.array?.map { $0["id"] } == ["msg_0"] && list["has_more"] == true)
            }
            try await client.execute(uri: "/v1/responses/resp_1/input_items?order=asc&after=msg_0", method: .get) { response in
                #expect(parse(response)["data"]?.array?.count == 1 && parse(response)["has_more"] == false)
            }
            for bad in ["limit=0", "limit=101", "order=up", "after=msg_9", "colour=red"] {
                try await client.execute(uri: "/v1/responses/resp_1/input_items?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(parse(response)["error"]?["param"]?.string == String(bad.prefix { $0 != "=" }))
                }
            }

            // The call in the stored output is answered in the next request: accepted, so the
            // request goes on to the model (not in this store).
            let answer = #"{"model":"nope:1b","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_1","output":"21 C"}]}"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(answer)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["param"]?.string == "model")
            }
            // The AI SDK sends earlier answers by reference: the stored item stands in for it.
            let referenced = #"{"model":"nope:1b","input":[{"type":"item_reference","id":"fc_1"},{"type":"function_call_output","call_id":"call_1","output":"21 C"}]}"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(referenced)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["param"]?.string == "model")
            }
            let dangling = #"{"model":"nope:1b","input":[{"role":"user","content":"hi"},{"type":"item_reference","id":"msg_gone"}]}"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(dangling)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["param"]?.string == "input[1].id")
            }
            let alone = #"{"model":"nope:1b","input":[{"type":"function_call_output","call_id":"call_1","output":"21 C"}]}"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(alone)) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["param"]?.string == "input[0].call_id")
            }

            try await client.execute(uri: "/v1/responses/resp_1", method: .delete) { response in
                #expect(response.status == .ok)
                #expect(parse(response) == .object(["id": "resp_1", "object": "response", "deleted": true]))
            }
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/responses/resp_1"), (.delete, "/v1/responses/resp_1"),
                                  (.get, "/v1/responses/resp_1/input_items"), (.get, "/v1/responses/resp_never")] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .notFound, "\(method) \(uri)")
                    #expect(parse(response)["error"]?["type"]?.string == "invalid_request_error")
                    #expect(parse(response)["error"]?["message"]?.string?.contains("not found") == true)
                }
            }
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(answer)) { response in
                #expect(response.status == .notFound)
                #expect(parse(response)["error"]?["param"]?.string == "previous_response_id")
            }
        }
    }
}

/// The Responses route end to end on smollm2:135m from the test store.
@Suite(.serialized) struct RealModelResponsesTests {
    static let greedy = #""model":"smollm2:135m","instructions":"You are terse.","input":"Name three colours.","temperature":0,"max_output_tokens":24"#

    /// The events of a stream: (event name, data), checking that each names its own type and
    /// that sequence numbers count from 0.
    func events(_ stream: String) throws -> [(String, JSONValue)] {
        var events: [(String, JSONValue)] = []
        for block in stream.components(separatedBy: "\n\n") where !block.isEmpty {
            let lines = block.split(separator: "\n", maxSplits: 1).map(String.init)
            #expect(lines.count == 2 && lines[0].hasPrefix("event: ") && lines[1].hasPrefix("data: "), "\(block)")
            guard lines.count == 2 else { continue }
            let name = String(lines[0].dropFirst(7))
            let data = try JSONParser.parse(Array(lines[1].dropFirst(6).utf8))
            #expect(data["type"]?.string == name)
            #expect(data["sequence_number"]?.int == events.count)
            events.append((name, data))
        }
        return events
    }

    func outputText(_ response: JSONValue) -> String {
        (response["output"]?.array ?? []).filter { $0["type"] == "message" }
            .flatMap { $0["content"]?.array ?? [] }.compactMap { $0["text"]?.string }.joined()
    }

    @Test func wholeAndStreamedAgree() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let whole = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body("{\(Self.greedy)}")) {
                #expect($0.status == .ok)
                return parse($0)
            }
            #expect(whole["object"] == "response" && whole["id"]?.string?.hasPrefix("resp_") == true)
            #expect(["completed", "incomplete"].contains(whole["status"]?.string ?? ""))
            #expect(whole["instructions"] == "You are terse." && whole["max_output_tokens"] == 24 && whole["temperature"] == .double(0))
            #expect(whole["error"] == .null && whole["tools"] == .array([]) && whole["tool_choice"] == "auto")
            let message = try #require(whole["output"]?.array?.first)
            #expect(message["type"] == "message" && message["role"] == "assistant" && message["id"]?.string?.hasPrefix("msg_") == true)
            let text = outputText(whole)
            #expect(!text.isEmpty)
            let usage = try #require(whole["usage"])
            let input = try #require(usage["input_tokens"]?.int)
            let output = try #require(usage["output_tokens"]?.int)
            #expect(input > 10 && output > 0 && output <= 24 && usage["total_tokens"]?.int == input + output)
            if whole["status"] == "incomplete" { #expect(whole["incomplete_details"]?["reason"] == "max_output_tokens") }

            let stream = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders,
                                                  body: body("{\(Self.greedy),\"stream\":true}")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                return String(buffer: response.body)
            }
            let events = try events(stream)
            let names = events.map(\.0)
            #expect(Array(names.prefix(4)) == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"])
            #expect(Array(names.suffix(4)) == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                                               whole["status"] == "completed" ? "response.completed" : "response.incomplete"])
            #expect(events[0].1["response"]?["status"] == "in_progress" && events[0].1["response"]?["output"] == .array([]))
            let deltas = events.filter { $0.0 == "response.output_text.delta" }.map(\.1)
            #expect(deltas.map { $0["delta"]?.string ?? "" }.joined() == text, "greedy: the stream spells the same answer")
            #expect(deltas.allSatisfy { $0["item_id"] == events[2].1["item"]?["id"] && $0["output_index"] == 0 && $0["content_index"] == 0 })
            #expect(events.first { $0.0 == "response.output_text.done" }?.1["text"]?.string == text)
            let final = try #require(events.last?.1["response"])
            #expect(outputText(final) == text && final["usage"]?["output_tokens"] == usage["output_tokens"])
            #expect(final["id"] == events[0].1["response"]?["id"])
        }
    }

    @Test func storedResponsesContinueAConversation() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        try await app.test(.router) { client in
            func create(_ text: String) async throws -> JSONValue {
                try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(text)) {
                    #expect($0.status == .ok, "\(String(buffer: $0.body))")
                    return parse($0)
                }
            }
            let first = try await create(#"{"model":"smollm2:135m","input":"My name is Ada.","temperature":0,"max_output_tokens":16}"#)
            let firstID = try #require(first["id"]?.string)
            #expect(first["store"] == true)
            try await client.execute(uri: "/v1/responses/\(firstID)", method: .get) { #expect(parse($0) == first) }
            let second = try await create(#"{"model":"smollm2:135m","previous_response_id":"\#(firstID)","input":"What is my name?","temperature":0,"max_output_tokens":16}"#)
            #expect(second["previous_response_id"]?.string == firstID)
            let secondID = try #require(second["id"]?.string)
            #expect((second["usage"]?["input_tokens"]?.int ?? 0) > (first["usage"]?["input_tokens"]?.int ?? .max),
                    "the first exchange is part of the second prompt")
            let items = try await client.execute(uri: "/v1/responses/\(secondID)/input_items?order=asc", method: .get) { parse($0) }
            let listed = items["data"]?.array ?? []
            #expect(listed.map { $0["role"]?.string } == ["user", "assistant", "user"])
            #expect(listed.last?["content"]?.array?.first?["text"] == "What is my name?")
            #expect(listed[1]["id"] == first["output"]?.array?.first?["id"], "the first answer, as it was returned")

            try await client.execute(uri: "/v1/responses/\(firstID)", method: .delete) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/responses/\(firstID)", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/responses/\(secondID)", method: .get) { #expect($0.status == .ok) }

            let unstored = try await create(#"{"model":"smollm2:135m","input":"Hi","store":false,"max_output_tokens":4}"#)
            try await client.execute(uri: "/v1/responses/\(unstored["id"]?.string ?? "")", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test func textFormatSchemaAndForcedCalls() async throws {
        let app = try makeApplication(store: try storeWithSmolLM())
        let schema = #"{"type":"object","properties":{"city":{"type":"string","maxLength":20},"population":{"type":"integer","minimum":0}},"required":["city","population"],"additionalProperties":false}"#
        let tools = #"[{"type":"function","name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":30}},"required":["city"]}}]"#
        try await app.test(.router) { client in
            let structured = #"{"model":"smollm2:135m","input":"Give me a city and its population as JSON.","temperature":0,"max_output_tokens":120,"text":{"format":{"type":"json_schema","name":"city","strict":true,"schema":\#(schema)}}}"#
            let answer = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(structured)) { parse($0) }
            #expect(answer["status"] == "completed")
            #expect(answer["text"]?["format"]?["type"] == "json_schema")
            let value = try JSONParser.parse(Array(outputText(answer).utf8))
            guard case .object(let object) = value else { Issue.record("not an object: \(outputText(answer))"); return }
            #expect(object.keys == ["city", "population"])

            let forced = #"{"model":"smollm2:135m","input":"What's the weather in Paris?","temperature":0,"max_output_tokens":120,"tools":\#(tools),"tool_choice":"required","parallel_tool_calls":false"#
            let called = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(forced + "}")) { parse($0) }
            let calls = (called["output"]?.array ?? []).filter { $0["type"] == "function_call" }
            #expect(calls.count == 1, "parallel_tool_calls false: one call, \(called)")
            let call = try #require(calls.first, "\(called)")
            #expect(call["name"] == "get_weather" && call["status"] == "completed" && call["id"]?.string?.hasPrefix("fc_") == true)
            let callID = try #require(call["call_id"]?.string)
            let arguments = try JSONParser.parse(Array((call["arguments"]?.string ?? "").utf8))
            #expect(arguments["city"]?.string != nil, "\(arguments)")

            // Streamed: the call is announced, its arguments arrive as deltas that join to the same JSON.
            let stream = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders,
                                                  body: body(forced + #","stream":true}"#)) { String(buffer: $0.body) }
            let events = try events(stream)
            let added = try #require(events.first { $0.0 == "response.output_item.added" && $0.1["item"]?["type"] == "function_call" })
            #expect(added.1["item"]?["name"] == "get_weather" && added.1["item"]?["arguments"] == "")
            let streamedArguments = events.filter { $0.0 == "response.function_call_arguments.delta" && $0.1["item_id"] == added.1["item"]?["id"] }
                .map { $0.1["delta"]?.string ?? "" }.joined()
            #expect(try JSONParser.parse(Array(streamedArguments.utf8)) == arguments, "greedy: the same call")
            #expect(events.first { $0.0 == "response.function_call_arguments.done" }?.1["arguments"]?.string == streamedArguments)
            #expect(events.last?.0 == "response.completed")

            // The call's output sent back: the model answers, and never by repeating the call it made.
            let roundTrip = #"{"model":"smollm2:135m","previous_response_id":"\#(called["id"]?.string ?? "")","input":[{"type":"function_call_output","call_id":"\#(callID)","output":"{\"temperature\":21,\"unit\":\"celsius\"}"}],"tools":\#(tools),"temperature":0,"max_output_tokens":60}"#
            let final = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(roundTrip)) {
                #expect($0.status == .ok, "\(String(buffer: $0.body))")
                return parse($0)
            }
            let output = final["output"]?.array ?? []
            #expect(!output.isEmpty)
            #expect(!output.contains { $0["type"] == "function_call" && $0["name"] == call["name"] && $0["arguments"] == call["arguments"] },
                    "a repeat of the answered call: \(output)")
        }
    }

    @Test func tokenLimitAndTruncation() async throws {
        let app = try makeApplication({ $0.contextLength = 256 }, store: try storeWithSmolLM())
        try await app.test(.router) { client in
            let story = #"{"model":"smollm2:135m","input":"Write a long story about a dragon.","temperature":0,"max_output_tokens":3"#
            let cut = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(story + "}")) { parse($0) }
            #expect(cut["status"] == "incomplete" && cut["incomplete_details"]?["reason"] == "max_output_tokens")
            #expect(cut["usage"]?["output_tokens"] == 3)
            #expect(cut["output"]?.array?.first?["status"] == "incomplete")
            let stream = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders,
                                                  body: body(story + #","stream":true}"#)) { String(buffer: $0.body) }
            #expect(try events(stream).last?.0 == "response.incomplete")

            // A conversation longer than the context: refused, unless truncation is "auto".
            let turns = (0..<40).map { #"{"role":"\#($0 % 2 == 0 ? "user" : "assistant")","content":"Message number \#($0) of a long talk about the weather."}"# }
            let long = #"{"model":"smollm2:135m","instructions":"You are terse.","input":[\#(turns.joined(separator: ",")),{"role":"user","content":"Say hi."}],"temperature":0,"max_output_tokens":8"#
            try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders, body: body(long + "}")) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["message"]?.string?.contains("context") == true)
            }
            let truncated = try await client.execute(uri: "/v1/responses", method: .post, headers: jsonHeaders,
                                                     body: body(long + #","truncation":"auto"}"#)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                return parse(response)
            }
            let input = try #require(truncated["usage"]?["input_tokens"]?.int)
            #expect(input <= 256 - 8 && input > 128, "the oldest messages dropped, as few as fit: \(input) tokens")
            #expect(truncated["truncation"] == "auto")
        }
    }
}
