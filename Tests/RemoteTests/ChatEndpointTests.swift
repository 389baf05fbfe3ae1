import Foundation
@testable import Remote
import Testing

@Suite struct ChatEndpointTests {
    @Test func takesABaseURLAndAddsV1ToABareOne() throws {
        #expect(try ChatEndpoint(url: "http://127.0.0.1:8080", model: "m").baseURL == "http://127.0.0.1:8080/v1")
        #expect(try ChatEndpoint(url: "https://api.example.com/v1/", model: "m").baseURL == "https://api.example.com/v1")
        for bad in ["ftp://x/v1", "127.0.0.1:8080", "http:///v1", "http://x/v1?key=1"] {
            #expect(throws: RemoteError.self) { try ChatEndpoint(url: bad, model: "m") }
        }
        #expect(throws: RemoteError.self) { try ChatEndpoint(url: "http://x/v1", model: "") }
    }

    @Test func readsAnAnswerWithItsUsageAndLogprobs() throws {
        let body = #"{"choices":[{"message":{"role":"assistant","content":"391"},"finish_reason":"stop","logprobs":{"content":[{"token":"39","logprob":-0.1},{"token":"1","logprob":-0.3}]}}],"usage":{"prompt_tokens":12,"completion_tokens":2},"model":"small"}"#
        let answer = try ChatEndpoint.parse(Data(body.utf8), from: "x")
        #expect(answer.text == "391" && answer.promptTokens == 12 && answer.completionTokens == 2 && answer.finishReason == "stop")
        #expect(answer.model == "small")
        #expect(abs((answer.meanLogprob ?? 0) + 0.2) < 1e-12)
        #expect(throws: RemoteError.self) { try ChatEndpoint.parse(Data(#"{"error":{"message":"no"}}"#.utf8), from: "x") }
    }
}
