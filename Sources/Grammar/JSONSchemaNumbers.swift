import JSON

/// Numbers and integers of `JSONSchemaConverter`.
extension JSONSchemaConverter {
    private struct RawBound { var value: Double; var exclusive: Bool; var key: String }

    /// Most multiples spelled out for a `multipleOf` between two bounds (one alternative each).
    static let maximumSpelledMultiples: Int64 = 1_000
    /// Largest `multipleOf` divisor: the automaton has one rule per remainder and digit count.
    private static let maximumDivisor = 1_000

    private func numeric(_ value: JSONValue?, _ key: String, path: String) throws(GrammarError) -> Double? {
        switch value {
        case nil: return nil
        case .int(let integer)?: return Double(integer)
        case .double(let double)? where double.isFinite: return double
        default: throw error("\(path).\(key)", "must be a number")
        }
    }

    private func bounds(_ schema: JSONObject, path: String) throws(GrammarError) -> (lower: RawBound?, upper: RawBound?) {
        var lower = try numeric(schema["minimum"], "minimum", path: path).map { RawBound(value: $0, exclusive: false, key: "minimum") }
        var upper = try numeric(schema["maximum"], "maximum", path: path).map { RawBound(value: $0, exclusive: false, key: "maximum") }
        for (key, isLower) in [("exclusiveMinimum", true), ("exclusiveMaximum", false)] {
            guard let value = schema[key] else { continue }
            if case .bool(let flag) = value {
                // Draft 4: a boolean that makes minimum/maximum exclusive.
                if isLower { lower?.exclusive = flag } else { upper?.exclusive = flag }
                continue
            }
            let number = try numeric(value, key, path: path)!
            let bound = RawBound(value: number, exclusive: true, key: key)
            if isLower {
                if lower == nil || number >= lower!.value { lower = bound }
            } else {
                if upper == nil || number <= upper!.value { upper = bound }
            }
        }
        return (lower, upper)
    }

    /// A bound as Int64, nil when it is so far out that it does not bind generated numbers
    /// (at most 16 digits); an error when it is far out on the binding side.
    private func integerBound(_ bound: RawBound?, isLower: Bool, integer: Bool, path: String) throws(GrammarError) -> NumberGrammar.Bound? {
        guard let bound else { return nil }
        let limit = Double(NumberGrammar.largestBound)
        if isLower ? bound.value < -limit : bound.value > limit { return nil }
        if isLower ? bound.value > limit : bound.value < -limit {
            throw error("\(path).\(bound.key)", "bound \(bound.value) is beyond ±10^18")
        }
        if integer {
            // Integers: an inclusive bound on the nearest integer inside.
            let value: Double
            if isLower { value = bound.exclusive ? bound.value.rounded(.down) + 1 : bound.value.rounded(.up) }
            else { value = bound.exclusive ? bound.value.rounded(.up) - 1 : bound.value.rounded(.down) }
            return NumberGrammar.Bound(value: Int64(value), exclusive: false)
        }
        guard bound.value.rounded() == bound.value else {
            throw error("\(path).\(bound.key)", "a non-integer bound on a number is not supported (use an integer bound)")
        }
        return NumberGrammar.Bound(value: Int64(bound.value), exclusive: bound.exclusive)
    }

    mutating func numberSchema(_ schema: JSONObject, integer: Bool, path: String) throws(GrammarError) -> String {
        let (rawLower, rawUpper) = try bounds(schema, path: path)
        var divisor: Int? = nil
        if let multiple = try numeric(schema["multipleOf"], "multipleOf", path: path) {
            guard multiple > 0 else { throw error("\(path).multipleOf", "must be greater than 0") }
            guard multiple.rounded() == multiple else {
                throw error("\(path).multipleOf", "a non-integer multipleOf is not supported (validators disagree on decimal division)")
            }
            guard multiple <= Double(Self.maximumDivisor) else {
                throw error("\(path).multipleOf", "multipleOf above \(Self.maximumDivisor) is not supported")
            }
            if multiple != 1 || !integer { divisor = Int(multiple) }
        }
        // A whole multipleOf on a number makes it an integer (a valid subset of the numbers).
        let isInteger = integer || divisor != nil
        let lower = try integerBound(rawLower, isLower: true, integer: isInteger, path: path)
        let upper = try integerBound(rawUpper, isLower: false, integer: isInteger, path: path)

        if let divisor, divisor > 1 {
            let sign: String
            let step = Int64(divisor)
            switch (lower?.value, upper?.value) {
            case (nil, nil): sign = "-?"
            case (let low?, nil) where low <= 0 && low > -step: sign = ""
            case (nil, let high?) where high >= 0 && high < step: sign = "-"
            // Strictly positive or negative (`exclusiveMinimum: 0`, `minimum: 1`): zero is left out.
            case (let low?, nil) where low > 0 && low <= step: sign = "+"
            case (nil, let high?) where high < 0 && high >= -step: sign = "-+"
            case (let low?, let high?) where low <= high:
                // A bounded range holds few multiples: they are spelled out.
                let first = low >= 0 ? (low + step - 1) / step * step : -((-low) / step * step)
                guard first > high || (high - first) / step < Self.maximumSpelledMultiples else {
                    throw error("\(path).multipleOf", "multipleOf with bounds holding more than \(Self.maximumSpelledMultiples) multiples is not supported")
                }
                let values = stride(from: first, through: high, by: Int64.Stride(step)).map { "\"\($0)\"" }
                guard !values.isEmpty else { throw error("\(path).multipleOf", "no multiple of \(divisor) lies within the bounds") }
                return try rule("multiples", "(\(values.joined(separator: " | "))) \(space)")
            default:
                throw error("\(path).multipleOf", "multipleOf together with these bounds is not supported")
            }
            let base = builder.uniqueName("\(name)-multiple-\(divisor)")
            let (expression, rules) = NumberGrammar.multiples(of: divisor, sign: sign) { "\(base)-\($0)" }
            guard builder.ruleCount + rules.count < GrammarLimits.maximumRules else {
                throw error("\(path).multipleOf", "the schema needs more than \(GrammarLimits.maximumRules) grammar rules")
            }
            for (ruleName, body) in rules { builder.addRule(ruleName, body) }
            return "\(expression) \(space)"
        }
        if isInteger {
            if lower == nil && upper == nil { return builder.shared("json-integer") }
            guard let range = NumberGrammar.integerRange(lower?.value, upper?.value) else {
                throw error("\(path).\(rawLower?.key ?? "minimum")", "no integer satisfies the bounds")
            }
            return try rule("integer", "\(range) \(space)")
        }
        if lower == nil && upper == nil { return builder.shared("json-number") }
        guard let range = NumberGrammar.decimalRange(lower: lower, upper: upper) else {
            throw error("\(path).\(rawLower?.key ?? "minimum")", "no number satisfies the bounds")
        }
        return try rule("number", "\(range) \(space)")
    }
}
