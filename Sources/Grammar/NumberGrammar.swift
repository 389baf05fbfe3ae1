/// GBNF for numbers within bounds: exact decimal digit-range grammars for integers, integer
/// bounds for decimals, and divisibility (`multipleOf`) as a remainder automaton over digits.
enum NumberGrammar {
    /// Unbounded integers are limited to 16 digits (what a double holds exactly), as llama.cpp does.
    static let unboundedLimit: Int64 = 9_999_999_999_999_999
    /// Bounds beyond ±10^18 do not fit the digit arithmetic (Int64) and are refused.
    static let largestBound: Int64 = 999_999_999_999_999_999

    private static func digits(_ value: Int64) -> [Int] { String(value).map { Int(String($0))! } }

    private static func group(_ alternatives: [String]) -> String {
        alternatives.count == 1 ? alternatives[0] : "(" + alternatives.joined(separator: " | ") + ")"
    }

    private static func digitClass(_ low: Int, _ high: Int) -> String {
        low == high ? "\"\(low)\"" : "[\(low)-\(high)]"
    }

    /// Digit strings of one length between `low` and `high` (digit arrays of equal length).
    /// Recursion depth is the number of digits (at most 19).
    private static func sameLength(_ low: ArraySlice<Int>, _ high: ArraySlice<Int>) -> String {
        guard let first = low.first, let last = high.first else { return "" }
        let rest = low.count - 1
        let free = rest > 0 ? " [0-9]{\(rest)}" : ""
        if low == high { return "\"" + low.map(String.init).joined() + "\"" }
        if first == last { return "\"\(first)\" " + sameLength(low.dropFirst(), high.dropFirst()) }
        let lowRestZero = low.dropFirst().allSatisfy { $0 == 0 }
        let highRestNine = high.dropFirst().allSatisfy { $0 == 9 }
        var alternatives: [String] = []
        var middleLow = first + 1, middleHigh = last - 1
        if lowRestZero { middleLow = first } else {
            alternatives.append("\"\(first)\" " + group([sameLength(low.dropFirst(), ArraySlice(repeating: 9, count: rest))]))
        }
        if highRestNine { middleHigh = last }
        if middleLow <= middleHigh { alternatives.append(digitClass(middleLow, middleHigh) + free) }
        if !highRestNine {
            alternatives.append("\"\(last)\" " + group([sameLength(ArraySlice(repeating: 0, count: rest), high.dropFirst())]))
        }
        return group(alternatives)
    }

    /// Non-negative integers in [low, high] without leading zeros.
    static func naturalRange(_ low: Int64, _ high: Int64) -> String {
        precondition(0 <= low && low <= high)
        var alternatives: [String] = []
        let lowDigits = digits(low), highDigits = digits(high)
        for length in lowDigits.count...highDigits.count {
            let start = length == lowDigits.count ? lowDigits : [1] + Array(repeating: 0, count: length - 1)
            let end = length == highDigits.count ? highDigits : Array(repeating: 9, count: length)
            alternatives.append(sameLength(start[...], end[...]))
        }
        return group(alternatives)
    }

    /// Integers in [low, high] (nil: unbounded, limited to 16 digits); nil when empty.
    static func integerRange(_ low: Int64?, _ high: Int64?) -> String? {
        let lower = low ?? -max(unboundedLimit, high.map { -$0 } ?? 0)
        let upper = high ?? max(unboundedLimit, lower)
        guard lower <= upper else { return nil }
        var alternatives: [String] = []
        if lower < 0 { alternatives.append("\"-\" " + naturalRange(max(1, -upper), -lower)) }
        if upper >= 0 { alternatives.append(naturalRange(max(0, lower), upper)) }
        return group(alternatives)
    }

    /// A bound of a decimal: an integer value, exclusive or not.
    struct Bound { var value: Int64; var exclusive: Bool }

    private static let anyFraction = "(\".\" [0-9]{1,16})?"
    private static let zeroFraction = "(\".\" \"0\"{1,16})?"
    private static let nonZeroFraction = "\".\" [0-9]{0,15} [1-9]"

    /// Decimals (no exponent) within integer bounds; nil when none.
    static func decimalRange(lower: Bound?, upper: Bound?) -> String? {
        var alternatives: [String] = []
        if let positive = magnitude(lower: lower, upper: upper, positiveOnly: false) { alternatives.append(positive) }
        // x < 0 as "-" y with y > 0: x ≥ L ⇔ y ≤ -L and x ≤ H ⇔ y ≥ -H.
        if lower.map({ $0.value < 0 }) ?? true {
            let flippedLower = upper.map { Bound(value: -$0.value, exclusive: $0.exclusive) }
            let flippedUpper = lower.map { Bound(value: -$0.value, exclusive: $0.exclusive) }
            if let negative = magnitude(lower: flippedLower, upper: flippedUpper, positiveOnly: true) {
                alternatives.append("\"-\" " + negative)
            }
        }
        return alternatives.isEmpty ? nil : group(alternatives)
    }

    /// Non-negative decimals I.F within the bounds (`positiveOnly`: zero excluded).
    private static func magnitude(lower: Bound?, upper: Bound?, positiveOnly: Bool) -> String? {
        var alternatives: [String] = []
        // Integer parts whose every fraction fits: [a, b].
        let a = max(lower.map { $0.exclusive ? $0.value + 1 : $0.value } ?? 0, 0)
        let b = upper.map { $0.value - 1 } ?? max(unboundedLimit, a)
        if a <= b {
            if positiveOnly && a == 0 {
                alternatives.append("\"0\" " + nonZeroFraction)
                if b >= 1 { alternatives.append(naturalRange(1, b) + " " + anyFraction) }
            } else {
                alternatives.append(naturalRange(a, b) + " " + anyFraction)
            }
        }
        // x > L: L itself with a non-zero fraction (when that stays within the upper bound).
        if let lower, lower.exclusive, lower.value >= 0, upper.map({ lower.value < $0.value }) ?? true,
           !(lower.value == 0 && positiveOnly && a == 0) {
            alternatives.append("\"\(lower.value)\" " + nonZeroFraction)
        }
        // x ≤ H: H itself with a zero fraction.
        if let upper, !upper.exclusive, upper.value >= 0, !(positiveOnly && upper.value == 0),
           lower.map({ upper.value > $0.value || (upper.value == $0.value && !$0.exclusive) }) ?? true {
            alternatives.append("\"\(upper.value)\" " + zeroFraction)
        }
        return alternatives.isEmpty ? nil : group(alternatives)
    }

    /// Integers divisible by `divisor`: a remainder automaton over at most 16 digits (as every
    /// unbounded integer here: what a double holds exactly), one rule per remainder and length.
    /// `sign`: "-"? when both signs are allowed; "" for non-negative only; "-" for non-positive;
    /// "+" for positive only; "-+" for negative only.
    static func multiples(of divisor: Int, sign: String, ruleName: (String) -> String) -> (expression: String, rules: [(String, String)]) {
        let maximumDigits = 16
        func name(_ remainder: Int, _ digits: Int) -> String { ruleName("\(remainder)-\(digits)") }
        // canEnd[d][r]: after d digits with remainder r, the number can still end divisible.
        var canEnd = [[Bool]](repeating: [Bool](repeating: false, count: divisor), count: maximumDigits + 1)
        canEnd[maximumDigits][0] = true
        for digits in stride(from: maximumDigits - 1, through: 1, by: -1) {
            for remainder in 0..<divisor {
                canEnd[digits][remainder] = remainder == 0 || (0...9).contains { canEnd[digits + 1][(remainder * 10 + $0) % divisor] }
            }
        }
        var rules: [(String, String)] = []
        for digits in 1...maximumDigits {
            for remainder in 0..<divisor where canEnd[digits][remainder] {
                var alternatives: [String] = remainder == 0 ? ["\"\""] : []
                if digits < maximumDigits {
                    var byTarget: [Int: [Int]] = [:]
                    for digit in 0...9 {
                        let target = (remainder * 10 + digit) % divisor
                        if canEnd[digits + 1][target] { byTarget[target, default: []].append(digit) }
                    }
                    for (target, digitsToTarget) in byTarget.sorted(by: { $0.key < $1.key }) {
                        alternatives.append("\(digitSet(digitsToTarget)) \(name(target, digits + 1))")
                    }
                }
                rules.append((name(remainder, digits), alternatives.joined(separator: " | ")))
            }
        }
        var firsts: [Int: [Int]] = [:]
        for digit in 1...9 where canEnd[1][digit % divisor] { firsts[digit % divisor, default: []].append(digit) }
        let starts = firsts.sorted(by: { $0.key < $1.key }).map { "\(digitSet($0.value)) \(name($0.key, 1))" }
        let nonZero = group(starts)
        let expression: String
        switch sign {
        case "": expression = "(\"0\" | \(nonZero))"
        case "-": expression = "(\"0\" | \"-\" \(nonZero))"
        case "+": expression = nonZero
        case "-+": expression = "\"-\" \(nonZero)"
        default: expression = "(\"0\" | \"-\"? \(nonZero))"
        }
        return (expression, rules)
    }

    private static func digitSet(_ digits: [Int]) -> String {
        digits.count == 1 ? "\"\(digits[0])\"" : "[" + digits.map(String.init).joined() + "]"
    }
}
