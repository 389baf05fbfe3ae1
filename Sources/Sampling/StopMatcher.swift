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
    private var pending = ""
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
    }

    public mutating func feed(_ piece: String) -> Step {
        pending += piece
        if let (range, stop) = earliestStop() {
            let text = String(pending[..<range.lowerBound])
            pending = ""
            matchedStop = stop
            return Step(text: text, stopped: true)
        }
        let keep = longestSuffixThatPrefixesAStop()
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let text = String(pending[..<cut])
        pending = String(pending[cut...])
        return Step(text: text, stopped: false)
    }

    /// Releases whatever is held back (generation ended for another reason).
    public mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }

    private func earliestStop() -> (Range<String.Index>, String)? {
        var best: (Range<String.Index>, String)?
        for stop in stops {
            if let range = pending.range(of: stop), best == nil || range.lowerBound < best!.0.lowerBound {
                best = (range, stop)
            }
        }
        return best
    }

    /// Length in Characters of the longest tail of `pending` that is a proper prefix of a stop.
    private func longestSuffixThatPrefixesAStop() -> Int {
        var longest = 0
        let characters = Array(pending)
        for stop in stops {
            let stopCharacters = Array(stop)
            let maxLength = min(characters.count, stopCharacters.count - 1)
            guard maxLength > longest else { continue }
            for length in stride(from: maxLength, to: longest, by: -1)
            where characters[(characters.count - length)...].elementsEqual(stopCharacters[..<length]) {
                longest = length
                break
            }
        }
        return longest
    }
}
