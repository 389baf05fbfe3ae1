import Foundation
import Testing
@testable import Templates

struct TemplateAPITests {
    @Test func jsonKeepsKeyOrderAndIntegers() throws {
        let value = try TemplateValue(json: Data(#"{"z": 1, "a": [1.0, 2, "é\n", null, true], "m": {"b": {}, "a": []}}"#.utf8))
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["z", "a", "m"])
        #expect(object["z"] == .int(1))
        #expect(object["a"] == [.double(1.0), 2, "é\n", nil, true])
        #expect(value.jsonString == #"{"z": 1, "a": [1.0, 2, "é\n", null, true], "m": {"b": {}, "a": []}}"#)
    }

    @Test func jsonRejectsGarbage() {
        #expect(throws: TemplateError.self) { try TemplateValue(json: Data("{\"a\": }".utf8)) }
        #expect(throws: TemplateError.self) { try TemplateValue(json: Data("[1] x".utf8)) }
    }

    @Test func literalsBuildValues() {
        let value: TemplateValue = ["b": 1, "a": [true, nil, 1.5, "s"]]
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["b", "a"])
        #expect(object.count == 2)
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        do {
            _ = try ChatTemplate(source: "hello\n  {{ name }}\n{% if %}")
            Issue.record("expected a syntax error")
        } catch let error as TemplateError {
            guard case .syntax(let line, let column) = error.kind else { Issue.record("\(error)"); return }
            #expect(line == 3)
            #expect(column == 7)
            #expect(error.description.contains("3:7"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func raiseExceptionCarriesItsMessage() {
        do {
            _ = try ChatTemplate(source: "{{ raise_exception('System role not supported') }}").render([:])
            Issue.record("expected an error")
        } catch let error as TemplateError {
            #expect(error.kind == .raised)
            #expect(error.message == "System role not supported")
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func strftimeNowUsesTheGivenInstant() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let date = calendar.date(from: DateComponents(year: 2025, month: 3, day: 7, hour: 15))!
        let output = try ChatTemplate(source: "{{ strftime_now('%d %B %Y, %-d %b %I%p') }}").render([:], now: date)
        #expect(output == "07 March 2025, 7 Mar 03PM")
    }

    @Test func builtinTemplatesFollowLlamaCpp() throws {
        let gemma = try ChatTemplate(source: try #require(BuiltinChatTemplates.source(forArchitecture: "gemma3")))
        let output = try gemma.render([
            "messages": [["role": "system", "content": " Be brief. "], ["role": "user", "content": "Hi"],
                         ["role": "assistant", "content": "Hello"]],
            "add_generation_prompt": true,
        ])
        #expect(output == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>model\n")
        #expect(BuiltinChatTemplates.source(forArchitecture: "qwen2") == BuiltinChatTemplates.chatml)
        #expect(BuiltinChatTemplates.source(forArchitecture: "llama") == BuiltinChatTemplates.chatml)
    }

    @Test func rendersConcurrently() async throws {
        let template = try ChatTemplate(source: "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 {
                group.addTask { try template.render(["messages": [["role": "user", "content": .string("m\(i)")]]]) }
            }
            var count = 0
            for try await output in group {
                #expect(output.hasPrefix("<user>m"))
                count += 1
            }
            #expect(count == 16)
        }
    }
}
