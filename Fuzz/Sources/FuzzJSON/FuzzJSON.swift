import JSON

/// Any bytes: the parser answers a value or a `JSONParseError`, never crashes; a value it answers
/// serialises to text that parses back to the same value.
func fuzzJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = UnsafeBufferPointer(start: start, count: count)
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let text = value.serialized
    guard let again = try? JSONParser.parse(Array(text.utf8)) else {
        fatalError("serialised JSON does not parse: \(text.prefix(200))")
    }
    precondition(again == value, "JSON round trip changed the value: \(text.prefix(200))")
    return 0
}
