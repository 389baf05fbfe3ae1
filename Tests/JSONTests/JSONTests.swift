import JSON
import Testing

@Suite struct JSONTests {
    @Test func jsonParserIsStrictAndKeepsOrder() throws {
        let value = try JSONParser.parse(Array(#"{"b":1,"a":[true,null,-0.5,"\u00e9\ud83d\ude00"],"c":{}}"#.utf8))
        #expect(value.serialized == #"{"b":1,"a":[true,null,-0.5,"é😀"],"c":{}}"#)
        for bad in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "\"\\x\"", "\"\u{01}\"", "\"\\ud800\"", "[1] 2", "tru", "{'a':1}"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
        #expect(try JSONParser.parse(Array("9223372036854775807".utf8)) == .int(Int.max))
        #expect(try JSONParser.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
        #expect(JSONValue.string("a\"\\\n\u{1}").serialized == #""a\"\\\n\u0001""#)
    }

    @Test func typeNamesNameTheJSONType() {
        #expect(JSONValue.int(1).typeName == "number")
        #expect(JSONValue.object([:]).typeName == "object")
        #expect(JSONValue.null.typeName == "null")
    }
}
