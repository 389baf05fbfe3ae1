import Foundation

/// Watches generated text for stop strings without ever printing part of one.
///
/// Text that could still grow into a stop string is held back until it either completes one
/// (generation stops, the stop string is not emitted) or cannot any more (it is released).
///
/// ```swift
/// var matcher = StopMatcher(stops: ["\nUser:"])
/// let step = matcher.feed("Hello\nUs")   // step.text == "Hello", "\nUs" is held back
/// ```
public struct StopMatcher: Sendable {
    public let stops: [String]
    /// The stops as Unicode scalars, matched as the text arrives (Knuth–Morris–Pratt): each
    /// scalar of output costs O(1) per stop however long the stops and the output are.
    private let patterns: [[Unicode.Scalar]]
    /// For each pattern, `fallback[k]`: the longest proper prefix of pattern[...k] that is also
    /// its suffix — where matching resumes after a mismatch.
    private let fallbacks: [[Int]]
    /// How much of each pattern the end of the output matches now.
    private var matched: [Int]
    /// Output held back, `pending[pendingStart...]`: its last `matched.max()` scalars could still
    /// become a stop. Released text advances `pendingStart`; the array is compacted now and then.
    private var pending: [Unicode.Scalar] = []
    private var pendingStart = 0
    /// The stop string that ended the text, once one has (APIs report which one matched).
    public private(set) var matchedStop: String?

    public struct Step: Sendable, Equatable {
        /// Text safe to show now.
        public var text: String
        /// True once a stop string has appeared; nothing more should be generated.
        public var stopped: Bool

        public init(text: String, stopped: Bool) {
            self.text = text
            self.stopped = stopped
        }
    }

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        patterns = self.stops.map { Array($0.unicodeScalars) }
        fallbacks = patterns.map(Self.fallbackTable)
        matched = Array(repeating: 0, count: patterns.count)
    }

    /// Takes the next piece of output. A stop that completes ends the text where it starts; of
    /// stops completing at the same scalar, the longest (the one that started first) wins.
    public mutating func feed(_ piece: String) -> Step {
        for scalar in piece.unicodeScalars {
            pending.append(scalar)
            var completed: Int?
            for index in patterns.indices {
                let length = advance(index, with: scalar)
                if length == patterns[index].count, completed.map({ patterns[$0].count < length }) ?? true {
                    completed = index
                }
            }
            if let completed {
                // The stop started inside the held-back text or this piece, never before it.
                let text = release(upTo: pending.count - patterns[completed].count)
                pending.removeAll()
                pendingStart = 0
                matched = Array(repeating: 0, count: patterns.count)
                matchedStop = stops[completed]
                return Step(text: text, stopped: true)
            }
        }
        let text = release(upTo: pending.count - (matched.max() ?? 0))
        if pendingStart > 4096, pendingStart * 2 > pending.count {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
        return Step(text: text, stopped: false)
    }

    /// Releases whatever is held back (generation ended for another reason).
    public mutating func flush() -> String {
        defer {
            pending.removeAll()
            pendingStart = 0
            matched = Array(repeating: 0, count: patterns.count)
        }
        return release(upTo: pending.count)
    }

    /// The held-back text before `end`, which is no longer held back.
    private mutating func release(upTo end: Int) -> String {
        guard end > pendingStart else { return "" }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: pending[pendingStart..<end])
        pendingStart = end
        return String(text)
    }

    /// Moves pattern `index` past one more scalar of output; returns how much of it now matches.
    private mutating func advance(_ index: Int, with scalar: Unicode.Scalar) -> Int {
        let pattern = patterns[index]
        var length = matched[index]
        while length > 0, pattern[length] != scalar { length = fallbacks[index][length - 1] }
        if pattern[length] == scalar { length += 1 }
        matched[index] = length
        return length
    }

    private static func fallbackTable(_ pattern: [Unicode.Scalar]) -> [Int] {
        var table = Array(repeating: 0, count: pattern.count)
        var length = 0
        for position in pattern.indices.dropFirst() {
            while length > 0, pattern[position] != pattern[length] { length = table[length - 1] }
            if pattern[position] == pattern[length] { length += 1 }
            table[position] = length
        }
        return table
    }
}
