import Foundation

/// A short suite with exact answers — extraction, classification, arithmetic and JSON, the
/// everyday work a small local model takes over — that runs in about a minute. Its answers'
/// token log-probabilities calibrate the router (``RouterCalibration``).
public enum QuickSuite {
    /// How an answer is compared with the expected one.
    enum Check: Sendable {
        /// The answer, normalised (case, surrounding quotes, backticks, a final period), equals one of these.
        case text([String])
        /// The first number in the answer equals this.
        case number(Double)
        /// The answer's JSON (in a code fence or not) equals this JSON.
        case json(String)
    }

    struct Problem: Sendable {
        let id: String
        let question: String
        let check: Check
    }

    static let system = "Answer with the answer only: no explanation, no extra words."

    static let problems: [Problem] = [
        // Arithmetic
        Problem(id: "arithmetic-1", question: "What is 17 * 23?", check: .number(391)),
        Problem(id: "arithmetic-2", question: "What is 1000 - 357?", check: .number(643)),
        Problem(id: "arithmetic-3", question: "What is 144 divided by 12?", check: .number(12)),
        Problem(id: "arithmetic-4", question: "What is 15% of 200?", check: .number(30)),
        Problem(id: "arithmetic-5", question: "A book costs 12 dollars. How many dollars do 7 books cost?", check: .number(84)),
        Problem(id: "arithmetic-6", question: "What is 2 to the power of 10?", check: .number(1024)),
        Problem(id: "arithmetic-7", question: "What is 48 + 76?", check: .number(124)),
        Problem(id: "arithmetic-8", question: "How many minutes are there in 3 hours?", check: .number(180)),
        Problem(id: "arithmetic-9", question: "What is 9 * 9 - 1?", check: .number(80)),
        Problem(id: "arithmetic-10", question: "What is the sum of 250, 125 and 25?", check: .number(400)),
        // Extraction
        Problem(id: "extract-1", question: "Extract the email address from this text: \"For refunds, write to help@shop.example.org within 30 days.\"",
                check: .text(["help@shop.example.org"])),
        Problem(id: "extract-2", question: "Extract the year from this sentence: \"The bridge opened to traffic in 1937 after four years of work.\"",
                check: .number(1937)),
        Problem(id: "extract-3", question: "What is the city in this address? \"Flat 2, 14 Mill Lane, Oxford OX1 2JD, United Kingdom\"",
                check: .text(["oxford"])),
        Problem(id: "extract-4", question: "Extract the person's name from: \"Please forward the invoice to Maria Lopez before Friday.\"",
                check: .text(["maria lopez"])),
        Problem(id: "extract-5", question: "What is the price in this text, as a number? \"The lamp is on sale for $49.99 this week.\"",
                check: .number(49.99)),
        Problem(id: "extract-6", question: "Extract the order number from: \"Your order #A7731 has shipped.\"",
                check: .text(["a7731", "#a7731"])),
        Problem(id: "extract-7", question: "Which programming language is named in this sentence? \"We rewrote the parser in Rust last spring.\"",
                check: .text(["rust"])),
        Problem(id: "extract-8", question: "Extract the domain name from this URL: https://docs.example.com/guide/start?x=1",
                check: .text(["docs.example.com"])),
        Problem(id: "extract-9", question: "How many people are in this sentence? \"Anna, Ben and Chloe went hiking.\" Answer with a number.",
                check: .number(3)),
        Problem(id: "extract-10", question: "Extract the time from: \"The meeting starts at 14:30 in room B.\"",
                check: .text(["14:30"])),
        // Classification
        Problem(id: "classify-1", question: "Is the sentiment of this review positive or negative? \"The battery died after two days and support never answered.\"",
                check: .text(["negative"])),
        Problem(id: "classify-2", question: "Is the sentiment of this review positive or negative? \"Lovely staff, spotless room, I would stay again.\"",
                check: .text(["positive"])),
        Problem(id: "classify-3", question: "Is this message spam or not spam? \"CONGRATULATIONS! You won a free cruise, click here to claim now!!!\"",
                check: .text(["spam"])),
        Problem(id: "classify-4", question: "Which language is this sentence in: English, French or German? \"Je voudrais un café, s'il vous plaît.\"",
                check: .text(["french"])),
        Problem(id: "classify-5", question: "Is a tomato botanically a fruit or a vegetable?", check: .text(["fruit", "a fruit"])),
        Problem(id: "classify-6", question: "Classify this support ticket as billing, technical or shipping: \"I was charged twice for my subscription this month.\"",
                check: .text(["billing"])),
        Problem(id: "classify-7", question: "Classify this support ticket as billing, technical or shipping: \"The app crashes every time I open the settings page.\"",
                check: .text(["technical"])),
        Problem(id: "classify-8", question: "Is 97 a prime number? Answer yes or no.", check: .text(["yes"])),
        Problem(id: "classify-9", question: "Which is larger, 0.7 or 0.65?", check: .number(0.7)),
        Problem(id: "classify-10", question: "Is water at 120 degrees Celsius and normal pressure a solid, a liquid or a gas?",
                check: .text(["gas", "a gas"])),
        // JSON
        Problem(id: "json-1", question: "Return a JSON object with keys \"name\" and \"age\" for this person: \"Tom is 31 years old.\"",
                check: .json(#"{"name": "Tom", "age": 31}"#)),
        Problem(id: "json-2", question: "Return a JSON array of the colours in this sentence, in order: \"The flag is red, white and blue.\"",
                check: .json(#"["red", "white", "blue"]"#)),
        Problem(id: "json-3", question: "Return a JSON object with keys \"city\" and \"country\" for: \"Kyoto is a city in Japan.\"",
                check: .json(#"{"city": "Kyoto", "country": "Japan"}"#)),
        Problem(id: "json-4", question: "Return a JSON object {\"count\": N} where N is the number of words in: \"the quick brown fox\"",
                check: .json(#"{"count": 4}"#)),
        Problem(id: "json-5", question: "Return a JSON array of the even numbers in [3, 8, 5, 10, 12, 7].",
                check: .json("[8, 10, 12]")),
        Problem(id: "json-6", question: "Return a JSON object with a key \"valid\" set to true if 2 + 2 equals 4, and false otherwise.",
                check: .json(#"{"valid": true}"#)),
    ]

    /// The suite; `maxTokens` bounds each answer.
    public static func suite(maxTokens: Int = 64) -> EvalSuite {
        EvalSuite(
            name: "quick", summary: "Quick: \(problems.count) short questions with exact answers (arithmetic, extraction, classification, JSON)",
            items: problems.map { problem in
                EvalItem(id: problem.id, messages: [EvalMessage(role: "system", content: system),
                                                    EvalMessage(role: "user", content: problem.question)],
                         maxTokens: maxTokens) { answer in grade(answer, problem.check) }
            },
            wantsLogprobs: true)
    }

    static func grade(_ answer: String, _ check: Check) -> Grade {
        switch check {
        case .text(let accepted):
            let given = normalise(answer)
            return Grade(passed: accepted.contains(given), detail: "expected \(accepted[0]), got \(given.prefix(80))")
        case .number(let expected):
            let given = lastNumber(in: answer)
            return Grade(passed: given.map { abs($0 - expected) < 1e-9 } ?? false,
                         detail: "expected \(expected), got \(given.map { "\($0)" } ?? "no number")")
        case .json(let expected):
            let given = jsonValue(in: answer).flatMap(canonicalJSON)
            let wanted = (try? JSONSerialization.jsonObject(with: Data(expected.utf8), options: .fragmentsAllowed)).flatMap(canonicalJSON)
            return Grade(passed: given != nil && given == wanted, detail: "expected \(expected)")
        }
    }

    /// Lower case, without surrounding white space, quotes, backticks, or a final period.
    static func normalise(_ answer: String) -> String {
        var text = answer.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let wrappers: Set<Character> = ["\"", "'", "`", "*", "."]
        while let last = text.last, wrappers.contains(last) { text.removeLast() }
        while let first = text.first, wrappers.contains(first) { text.removeFirst() }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The last number in the answer ("17 * 23 = 391" is 391), as the GSM8K convention reads it.
    static func lastNumber(in text: String) -> Double? {
        let characters = Array(text)
        var index = characters.count - 1
        func isDigit(_ character: Character) -> Bool { character.isASCII && character.isNumber }
        while index >= 0 && !isDigit(characters[index]) { index -= 1 }
        guard index >= 0 else { return nil }
        let end = index + 1
        while index > 0, isDigit(characters[index - 1]) || ((characters[index - 1] == "." || characters[index - 1] == ",")
                                                               && index >= 2 && isDigit(characters[index - 2])) { index -= 1 }
        let digits = String(characters[index..<end]).replacingOccurrences(of: ",", with: "")
        let negative = index > 0 && characters[index - 1] == "-" && (index == 1 || !isDigit(characters[index - 2]))
        return Double(digits).map { negative ? -$0 : $0 }
    }

    /// The JSON in an answer: the whole answer, else a fenced block's content, else the span
    /// from the first `{` or `[` to the last `}` or `]`.
    static func jsonValue(in answer: String) -> Any? {
        func parse(_ text: Substring) -> Any? {
            try? JSONSerialization.jsonObject(with: Data(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8), options: .fragmentsAllowed)
        }
        if let value = parse(answer[...]) { return value }
        let code = HumanEvalProblem.code(in: answer)
        if code != answer, let value = parse(code[...]) { return value }
        guard let start = answer.firstIndex(where: { $0 == "{" || $0 == "[" }),
              let end = answer.lastIndex(where: { $0 == "}" || $0 == "]" }), start < end else { return nil }
        return parse(answer[start...end])
    }
}

/// A JSON value as one text — keys sorted, numbers by value, `true` apart from `1` — so two
/// values are equal as JSON exactly when their texts are.
func canonicalJSON(_ value: Any) -> String? {
    switch value {
    case let object as [String: Any]:
        var parts: [String] = []
        for key in object.keys.sorted() {
            guard let member = canonicalJSON(object[key]!), let name = canonicalJSON(key) else { return nil }
            parts.append(name + ":" + member)
        }
        return "{" + parts.joined(separator: ",") + "}"
    case let array as [Any]:
        let parts = array.map(canonicalJSON)
        return parts.contains(where: { $0 == nil }) ? nil : "[" + parts.map { $0! }.joined(separator: ",") + "]"
    case let string as String:
        return (try? JSONSerialization.data(withJSONObject: [string])).map { String(decoding: $0, as: UTF8.self) }
    case is NSNull:
        return "null"
    case let number as NSNumber:
        // Foundation keeps JSON's booleans as boolean NSNumbers, whose type code is "c" (char).
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return "\(number.doubleValue)"
    case let flag as Bool:
        return flag ? "true" : "false"
    default:
        return nil
    }
}
