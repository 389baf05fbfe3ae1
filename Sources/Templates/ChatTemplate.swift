import Foundation

/// A chat template (`tokenizer.chat_template`), parsed once with the settings transformers
/// uses (trim_blocks, lstrip_blocks, loop controls, `{% generation %}`) and rendered in a
/// sandbox: templates see only the variables passed in, and every render is bounded in output
/// size, loop iterations, recursion depth and time.
public struct ChatTemplate: Sendable {
    public let source: String
    private let body: [Statement]

    public init(source: String) throws {
        self.source = source
        body = try onLargeStack {
            var parser = try Parser(source: source)
            return try parser.parseTemplate()
        }
    }

    /// Renders with `variables` (messages, add_generation_prompt, bos_token, tools, ...).
    /// Pass `tools: .none` when there are none, as transformers does. `now` feeds `strftime_now`.
    public func render(_ variables: [String: TemplateValue], limits: TemplateLimits = .default, now: Date = Date()) throws -> String {
        let body = self.body
        return try onLargeStack {
            try Interpreter(limits: limits, now: now).render(body, variables: variables)
        }
    }
}

/// Parsing and rendering recurse; Swift tasks and secondary threads may have stacks as small
/// as 512 KiB. Running on a thread with a known large stack makes the nesting limits, not the
/// caller's thread, decide how deep a template may go.
private func onLargeStack<T: Sendable>(_ work: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let thread = Thread {
        box.result = Result { try work() }
        box.done.signal()
    }
    thread.stackSize = 64 << 20
    thread.start()
    box.done.wait()
    return try box.result!.get()
}

/// Hands a result from the worker thread back; the semaphore orders the accesses.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
    let done = DispatchSemaphore(value: 0)
}
