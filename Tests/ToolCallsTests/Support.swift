import Foundation
import JSON
import Templates
@testable import ToolCalls

/// A chat template from Tests/ToolCallsTests/Fixtures (copied from the Templates fixtures, the
/// "source" of each, as .jinja).
func fixtureTemplate(_ name: String) throws -> ChatTemplate {
    guard let url = Bundle.module.url(forResource: name, withExtension: "jinja", subdirectory: "Fixtures") else {
        throw FixtureMissing(name: name)
    }
    return try ChatTemplate(source: String(contentsOf: url, encoding: .utf8))
}

struct FixtureMissing: Error { let name: String }

let weatherTool = ToolDefinition(
    name: "get_weather",
    description: "Get the current weather in a city.",
    parameters: [
        "type": "object",
        "properties": [
            "location": ["type": "string", "description": "The city."],
            "unit": ["type": "string", "enum": ["celsius", "fahrenheit"]],
        ],
        "required": ["location"],
    ]
)

let timeTool = ToolDefinition(name: "get_time", description: "The current time.")

let searchTool = ToolDefinition(
    name: "search",
    parameters: [
        "type": "object",
        "properties": ["query": ["type": "string"], "limit": ["type": "integer"]],
        "required": ["query", "limit"],
    ]
)

let allTools = [weatherTool, timeTool, searchTool]

/// Parses `text` fed in one piece, then finished.
func parseWhole(_ text: String, tools: [ToolDefinition] = allTools) -> (events: [ToolCallEvent], parser: ToolCallParser) {
    var parser = ToolCallParser(tools: tools)
    let events = parser.feed(text) + parser.finish()
    return (events, parser)
}

/// Events with content merged and call ids blanked, so different splits compare equal.
func normalized(_ events: [ToolCallEvent]) -> [ToolCallEvent] {
    var result: [ToolCallEvent] = []
    for event in events {
        switch event {
        case .content(let text):
            if case .content(let previous)? = result.last {
                result[result.count - 1] = .content(previous + text)
            } else if !text.isEmpty {
                result.append(.content(text))
            }
        case .callStarted(let index, _, let name): result.append(.callStarted(index: index, id: "", name: name))
        case .arguments(let index, let fragment):
            if case .arguments(let previousIndex, let previous)? = result.last, previousIndex == index {
                result[result.count - 1] = .arguments(index: index, fragment: previous + fragment)
            } else {
                result.append(.arguments(index: index, fragment: fragment))
            }
        case .callFinished: result.append(event)
        }
    }
    return result
}

func json(_ text: String) -> JSONValue {
    (try? JSONParser.parse(Array(text.utf8))) ?? .null
}
