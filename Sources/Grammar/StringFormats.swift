/// GBNF for the string formats Hearth enforces (the text between the quotes). Each is strict
/// enough that a validator checking the format (Python's `jsonschema` with a format checker)
/// accepts every output: dates respect month lengths and leap years, times have no leap second.
enum StringFormats {
    static let supported = ["date", "time", "date-time", "uuid", "email", "uri", "ipv4", "hostname"]

    private static let year = "(\"000\" [1-9] | \"00\" [1-9] [0-9] | \"0\" [1-9] [0-9]{2} | [1-9] [0-9]{3})"
    private static let leapYearEnd = "(\"0\" [48] | [2468] [048] | [13579] [26])"
    /// Years divisible by 4, except centuries not divisible by 400 (year 0000 excluded).
    private static let leapYear = "([0-9] [0-9] \(leapYearEnd) | \(leapYearEnd) \"00\")"
    private static let day28 = "(\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])"
    private static let monthDay = "((\"01\" | \"03\" | \"05\" | \"07\" | \"08\" | \"10\" | \"12\") \"-\" (\(day28) | \"29\" | \"30\" | \"31\")"
        + " | (\"04\" | \"06\" | \"09\" | \"11\") \"-\" (\(day28) | \"29\" | \"30\") | \"02-\" \(day28))"
    private static let date = "(\(year) \"-\" \(monthDay) | \(leapYear) \"-02-29\")"
    private static let time = "(([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,9})? (\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9]))"
    private static let hex = "[0-9a-fA-F]"
    private static let label = "[a-zA-Z0-9] ([a-zA-Z0-9-]{0,61} [a-zA-Z0-9])?"
    private static let octet = "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9]{2} | [1-9]? [0-9])"

    static func gbnf(_ format: String) -> String? {
        switch format {
        case "date": date
        case "time": time
        case "date-time": "\(date) \"T\" \(time)"
        case "uuid": "\(hex){8} \"-\" \(hex){4} \"-\" \(hex){4} \"-\" \(hex){4} \"-\" \(hex){12}"
        // A conservative address: dot-atom local part, a domain of at least two labels.
        case "email": "[a-zA-Z0-9_+-] ([a-zA-Z0-9_+.-]{0,62} [a-zA-Z0-9_+-])? \"@\" \(label) (\".\" \(label)){1,4}"
        // scheme ":" then characters RFC 3986 allows unescaped (no quotes, spaces or backslashes).
        case "uri": "[a-zA-Z] [a-zA-Z0-9+.-]{0,31} \":\" [a-zA-Z0-9._~:/?#@!$&'()*+,;=%\\[\\]-]+"
        case "ipv4": "\(octet) \".\" \(octet) \".\" \(octet) \".\" \(octet)"
        case "hostname": "\(label) (\".\" \(label)){0,10}"
        default: nil
        }
    }
}
