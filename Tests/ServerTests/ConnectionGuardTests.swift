import NIOHTTP1
import Testing
@testable import Server

/// What the connection guard decides from a request line and its Host headers, and how it counts
/// connections (the socket-level behaviour is tested against `hearth serve` in
/// Tests/clients/test_hardening.py).
@Suite struct ConnectionGuardTests {
    func head(_ target: String, version: HTTPVersion = .http1_1, hosts: [String]) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .GET, uri: target, headers: HTTPHeaders(hosts.map { ("Host", $0) }))
    }

    @Test func http11NeedsAHostAndHttp10DoesNot() {
        var request = head("/api/tags", hosts: [])
        #expect(RequestLineGuard.normalise(&request) == "missing Host header (HTTP/1.1 requires one)")
        request = head("/api/tags", version: .http1_0, hosts: [])
        #expect(RequestLineGuard.normalise(&request) == nil)
        request = head("/api/tags", hosts: ["localhost"])
        #expect(RequestLineGuard.normalise(&request) == nil)
    }

    @Test func absoluteFormBecomesOriginFormWithItsHost() {
        var request = head("http://LocalHost:11435/api/tags?x=1#frag", hosts: ["localhost:11435"])
        #expect(RequestLineGuard.normalise(&request) == nil)
        #expect(request.uri == "/api/tags?x=1")
        #expect(request.headers["Host"] == ["LocalHost:11435"])

        request = head("https://localhost", version: .http1_0, hosts: [])
        #expect(RequestLineGuard.normalise(&request) == nil)
        #expect(request.uri == "/")
        #expect(request.headers["Host"] == ["localhost"])

        request = head("http://localhost?q", hosts: ["localhost"])
        #expect(RequestLineGuard.normalise(&request) == nil)
        #expect(request.uri == "/?q")
    }

    @Test func absoluteFormMustAgreeWithTheHostHeader() {
        var request = head("http://evil.example/api/tags", hosts: ["localhost"])
        #expect(RequestLineGuard.normalise(&request)?.contains("names host 'evil.example'") == true)
        for target in ["http://user@localhost/", "http:///api/tags", "http://[::1]evil/", "http://a:b:c/"] {
            request = head(target, hosts: ["localhost"])
            #expect(RequestLineGuard.normalise(&request)?.hasPrefix("malformed request target") == true, "\(target)")
        }
        // Two Host headers stay two, for the Host check to refuse.
        request = head("http://localhost/", hosts: ["localhost", "evil.example"])
        #expect(RequestLineGuard.normalise(&request) == nil)
        #expect(request.headers["Host"].count == 2)
    }

    @Test func otherTargetsAreLeftAlone() {
        for target in ["/v1/models", "*", "ftp://localhost/x", "/http://evil.example/"] {
            var request = head(target, hosts: ["localhost"])
            #expect(RequestLineGuard.normalise(&request) == nil)
            #expect(request.uri == target)
        }
    }

    @Test func connectionsAreCappedPerClientAndInTotal() {
        let counter = ConnectionCounter(maximumTotal: 3, maximumPerClient: 2)
        #expect(counter.open(from: "10.0.0.1").refusal == nil)
        #expect(counter.open(from: "10.0.0.1").refusal == nil)
        #expect(counter.open(from: "10.0.0.1").refusal?.contains("per client") == true)
        #expect(counter.open(from: "10.0.0.2").refusal == nil)
        #expect(counter.open(from: "10.0.0.3").refusal?.contains("--max-connections") == true)
        #expect(counter.openConnections == 3)
        // A refused connection closing frees nothing; an admitted one frees its place.
        counter.close(from: "10.0.0.3", admitted: false)
        #expect(counter.openConnections == 3)
        counter.close(from: "10.0.0.1", admitted: true)
        #expect(counter.open(from: "10.0.0.3").refusal == nil)
        #expect(counter.openConnections == 3)
    }
}
