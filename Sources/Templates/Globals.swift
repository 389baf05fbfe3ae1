import Foundation

/// The global functions a template sees: jinja2's defaults that chat templates use plus
/// transformers' `raise_exception` and `strftime_now`. Nothing else is reachable.
enum Globals {
    private final class Counter { var value = 0 }

    static func make() -> [String: Value] {
        func function(_ name: String, _ body: @escaping (Interpreter, Arguments) throws -> Value) -> Value {
            .callable(Callable(name: name, kind: .builtin, body: body))
        }
        return [
            "range": function("range", range),
            "namespace": function("namespace") { _, args in .namespace(Namespace(try dictionary(args))) },
            "dict": function("dict") { _, args in .object(try dictionary(args)) },
            "raise_exception": function("raise_exception") { _, args in
                throw TemplateError(kind: .raised, message: PythonFormat.str(args.value(0, "message") ?? .missing))
            },
            "strftime_now": function("strftime_now") { interpreter, args in
                .string(strftime(PythonFormat.str(args.value(0, "format") ?? .missing), interpreter.now))
            },
            "cycler": function("cycler") { _, args in cycler(args.positional) },
            "joiner": function("joiner") { _, args in
                let separator = args.value(0, "sep") ?? .string(", ")
                let used = Counter()
                return function("joiner") { _, _ in
                    defer { used.value = 1 }
                    return used.value == 0 ? .string("") : separator
                }
            },
        ]
    }

    /// `dict(mapping_or_pairs, **kwargs)` as Python builds it.
    private static func dictionary(_ args: Arguments) throws -> Dict {
        var d = Dict()
        if let first = args.positional.first {
            switch first {
            case .object(let o): d = o
            case .array(let pairs), .tuple(let pairs):
                for pair in pairs {
                    guard case .array(let kv) = pair.tupleAsList, kv.count == 2 else { throw TemplateError.typeError("dictionary update sequence element has wrong length") }
                    d[PythonFormat.str(kv[0])] = kv[1]
                }
            default: throw TemplateError.typeError("'\(first.typeName)' object is not iterable")
            }
        }
        for (k, v) in args.keywords { d[k] = v }
        return d
    }

    /// `range()` materializes a list, so its size is checked against the loop budget first:
    /// `range(10**12)` fails at once instead of allocating.
    private static func range(_ interpreter: Interpreter, _ args: Arguments) throws -> Value {
        let ints = try args.positional.map { v -> Int in
            guard let i = v.asInt else { throw TemplateError.typeError("'\(v.typeName)' object cannot be interpreted as an integer") }
            return i
        }
        let (start, stop, step): (Int, Int, Int)
        switch ints.count {
        case 1: (start, stop, step) = (0, ints[0], 1)
        case 2: (start, stop, step) = (ints[0], ints[1], 1)
        case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
        default: throw TemplateError.typeError("range expected 1 to 3 arguments, got \(ints.count)")
        }
        guard step != 0 else { throw TemplateError.runtime("ValueError: range() arg 3 must not be zero") }
        let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
        let count = span <= 0 ? 0 : (span / Double(abs(step))).rounded(.up)
        if count > Double(interpreter.limits.maxLoopIterations) {
            throw TemplateError.limit(.loopIterations, "range() of \(Int(count)) items exceeds the loop limit")
        }
        try interpreter.checkSize(Int(count), "range() list")
        return .array(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
    }

    private static func cycler(_ items: [Value]) -> Value {
        let position = Counter()
        var object = Dict()
        func current() -> Value { items.isEmpty ? .none : items[position.value % items.count] }
        object["next"] = .callable(Callable(name: "next", kind: .method) { _, _ in
            defer { position.value += 1 }
            return current()
        })
        object["reset"] = .callable(Callable(name: "reset", kind: .method) { _, _ in
            position.value = 0
            return .none
        })
        object["items"] = .array(items)
        return .object(object)
    }

    /// C/Python strftime for the directives chat templates use, in the local time zone
    /// (Python's `datetime.now()` is local time).
    static func strftime(_ format: String, _ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
        let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0, weekday = (c.weekday ?? 1) - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var out = ""
        var chars = Array(format)[...]
        while let ch = chars.popFirst() {
            guard ch == "%", let directive = chars.popFirst() else { out.append(ch); continue }
            var d = directive
            var pad = true
            if d == "-", let next = chars.popFirst() { d = next; pad = false }  // glibc: %-d drops padding
            func num(_ n: Int) -> String { pad ? two(n) : String(n) }
            switch d {
            case "Y": out += String(year)
            case "y": out += two(year % 100)
            case "m": out += num(month)
            case "d": out += num(day)
            case "e": out += day < 10 ? " \(day)" : String(day)
            case "H": out += num(hour)
            case "I": out += num(hour % 12 == 0 ? 12 : hour % 12)
            case "M": out += num(minute)
            case "S": out += num(second)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "B": out += months[month - 1]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "A": out += days[weekday]
            case "a": out += String(days[weekday].prefix(3))
            case "j": out += pad ? String(format: "%03d", dayOfYear) : String(dayOfYear)
            case "w": out += String(weekday)
            case "u": out += String(weekday == 0 ? 7 : weekday)
            case "F": out += "\(year)-\(two(month))-\(two(day))"
            case "T": out += "\(two(hour)):\(two(minute)):\(two(second))"
            case "D": out += "\(two(month))/\(two(day))/\(two(year % 100))"
            case "Z": out += TimeZone.current.abbreviation(for: date) ?? ""
            case "z":
                let offset = TimeZone.current.secondsFromGMT(for: date) / 60
                out += (offset < 0 ? "-" : "+") + two(abs(offset) / 60) + two(abs(offset) % 60)
            case "n": out += "\n"
            case "t": out += "\t"
            case "%": out += "%"
            default: out += "%" + String(d)
            }
        }
        return out
    }
}
