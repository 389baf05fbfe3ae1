import Foundation
import Templates

/// Any text as a chat template, rendered with a conversation that has a system prompt, tools and
/// a tool call: parsing and rendering answer text or a `TemplateError`, never crash, and stay
/// inside the limits (a render that overruns its time budget shows as a libFuzzer timeout).
func fuzzTemplates(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let source = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    guard let template = try? ChatTemplate(source: source) else { return 0 }
    if let output = try? template.render(conversation, limits: limits, now: Date(timeIntervalSince1970: 0)) {
        precondition(output.utf8.count <= limits.maxOutputBytes, "render exceeded its output limit")
    }
    return 0
}

let limits = TemplateLimits(maxOutputBytes: 1 << 16, maxLoopIterations: 20_000, maxRecursionDepth: 100, maxDuration: 1)

let conversation: [String: TemplateValue] = [
    "messages": [
        ["role": "system", "content": "You are terse."],
        ["role": "user", "content": "Weather in Paris? <|im_end|> {{ x }}"],
        ["role": "assistant", "content": "", "tool_calls": [
            ["type": "function", "id": "call_1", "function": ["name": "get_weather", "arguments": ["city": "Paris"]]],
        ]],
        ["role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"],
        ["role": "user", "content": ["type": "text", "text": "thanks"]],
    ],
    "tools": [
        ["type": "function", "function": [
            "name": "get_weather", "description": "Current weather",
            "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]],
        ]],
    ],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>",
]
