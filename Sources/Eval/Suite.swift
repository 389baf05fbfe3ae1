import Foundation
import Remote

/// One chat message sent to a model under evaluation.
public typealias EvalMessage = ChatMessage

/// How an answer was judged.
public struct Grade: Sendable, Equatable {
    public var passed: Bool
    /// Why, in a few words (the failing assertion, "timed out", the expected answer…).
    public var detail: String

    public init(passed: Bool, detail: String) {
        self.passed = passed
        self.detail = detail
    }
}

/// One problem of a suite: what is asked, and how its answer is judged.
public struct EvalItem: Sendable {
    public var id: String
    public var messages: [EvalMessage]
    public var maxTokens: Int
    /// Judges the answer's text; may run a sandboxed program (never on a cooperative thread).
    public var grade: @Sendable (String) async -> Grade

    public init(id: String, messages: [EvalMessage], maxTokens: Int, grade: @escaping @Sendable (String) async -> Grade) {
        self.id = id
        self.messages = messages
        self.maxTokens = maxTokens
        self.grade = grade
    }
}

/// A set of problems with known answers.
public struct EvalSuite: Sendable {
    public var name: String
    public var summary: String
    public var items: [EvalItem]
    /// Whether the answers' token log-probabilities are asked for (to calibrate the router).
    public var wantsLogprobs: Bool

    public init(name: String, summary: String, items: [EvalItem], wantsLogprobs: Bool) {
        self.name = name
        self.summary = summary
        self.items = items
        self.wantsLogprobs = wantsLogprobs
    }

    /// The first `limit` items (all when nil).
    public func limited(to limit: Int?) -> EvalSuite {
        guard let limit, limit < items.count else { return self }
        var copy = self
        copy.items = Array(items.prefix(limit))
        return copy
    }

    /// The suites `hearth eval --suite` knows.
    public static let names = ["humaneval", "quick"]
}
