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

    /// Keys repeated in a large object: the last value wins, at the first key's place, as with a
    /// small one; removing a key keeps the rest findable.
    @Test func largeObjectsKeepOrderAndTheLastValue() throws {
        var text = "{"
        for index in 0..<100 { text += "\"k\(index)\":\(index)," }
        text += #""k7":"again","k99":null,"last":true}"#
        guard case .object(var object) = try JSONParser.parse(Array(text.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(object.keys.count == 101)
        #expect(object.keys.first == "k0" && object.keys.last == "last")
        #expect(object["k7"] == "again")
        #expect(object.keys[7] == "k7")
        #expect(object["k99"] == .null)
        object["k3"] = nil
        #expect(object["k3"] == nil)
        #expect(object["k4"] == 4 && object["last"] == true)
        object["new"] = 1
        #expect(object.keys.last == "new" && object["new"] == 1 && object.keys.count == 101)
    }

    /// An object of 300,000 keys parses in linear time: at the quadratic cost of a scan per key
    /// it took minutes (80,000 keys took 12.8 s), past this test's limit.
    @Test(.timeLimit(.minutes(1))) func manyKeysParseInLinearTime() throws {
        var bytes: [UInt8] = Array("{".utf8)
        bytes.reserveCapacity(300_000 * 16)
        for index in 0..<300_000 { bytes += Array("\"key\(index)\":\(index),".utf8) }
        bytes += Array(#""key5":"repeated"}"#.utf8)
        guard case .object(let object) = try JSONParser.parse(bytes) else {
            Issue.record("not an object")
            return
        }
        #expect(object.pairs.count == 300_000)
        #expect(object["key5"] == "repeated")
        #expect(object["key299999"] == 299_999)
    }
}
