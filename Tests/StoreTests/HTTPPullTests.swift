import Foundation
import Store
import Testing

/// The https path, against TestHTTPServer on loopback (plain http is allowed to 127.0.0.1).
@Suite("Pulls over HTTP (loopback server)")
struct HTTPPullTests {
    @Test func fullDownloadWithChecksum() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/files/tiny.gguf", Fixture.small)
        let log = ProgressLog(watching: test.model("tiny"))
        let model = try await test.store.pull(server.url("/files/tiny.gguf"), sha256: Fixture.smallSHA256, progress: log.record)
        #expect(model.name == "tiny")
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(model.source == server.url("/files/tiny.gguf"))
        #expect(try Data(contentsOf: test.model("tiny")) == Fixture.small)
        #expect(!log.finalPathAppearedEarly)
        #expect(log.all.last?.bytesTotal == Int64(Fixture.small.count))
        // Under heavy load (the whole suite in parallel on 2 cores) a transfer can break and resume; the
        // first request is the one under test, any later one must resume.
        #expect(server.requests.first?.range == nil)
        #expect(server.requests.dropFirst().allSatisfy { $0.range != nil })
        #expect(try test.leftovers() == [])
    }

    @Test func downloadWithoutChecksumRecordsTheComputedOne() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/m.gguf", Fixture.other)
        let model = try await test.store.pull(server.url("/m.gguf"), name: "named:v2") { _ in }
        #expect(model.name == "named:v2")
        #expect(model.sha256 == Fixture.otherSHA256)
        #expect(try test.store.list().map(\.sha256) == [Fixture.otherSHA256])
    }

    @Test func droppedConnectionIsResumedWithinThePull() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        server.dropConnections(count: 1, afterBytes: 1_000_000)
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        let requests = server.requests
        #expect(requests.count >= 2)
        #expect(requests[0].range == nil)
        // The retry asked only for what was missing, guarded by the ETag.
        let resumedFrom = try #require(requests[1].range.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) })
        #expect(resumedFrom > 0 && resumedFrom <= 1_000_000)
        #expect(requests[1].ifRange == "\"fixture-\(Fixture.small.count)\"")
        #expect(try test.leftovers() == [])
    }

    @Test func aPullThatRunsOutOfRetriesIsResumedByTheNextPull() async throws {
        var test = try TestStore()
        test.store.policy.maximumAttempts = 2
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        server.dropConnections(count: 2, afterBytes: 700_000)
        do {
            _ = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
            Issue.record("two dropped connections with two attempts must fail")
        } catch let error as StoreError {
            #expect(error.code == .networkFailure)
            #expect(error.description.contains("pull again to resume"))
        }
        #expect(!test.exists(test.model("tiny")))
        #expect(try test.leftovers() == ["tiny.partial", "tiny.partial.json"])

        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        // The second pull's first request resumes from what arrived (the client may lose bytes
        // buffered when the connection broke); on a loaded machine a later request may resume
        // again, from further on.
        let requests = server.requests
        #expect(requests.count >= 3)
        let resumedFrom = try #require(requests.dropFirst(2).first?.range.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) })
        #expect(resumedFrom > 0 && resumedFrom <= 1_400_000)
        // One request resumes; a machine under load may retry it once more, always resuming.
        #expect(server.requests.count >= 3)
        #expect(server.requests.dropFirst(2).allSatisfy { $0.range != nil }, "every request of the second pull resumes")
        #expect(try test.leftovers() == [])
    }

    @Test func aStalePartialFromAKilledPullIsResumed() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        // What `kill -9` in the middle of the download leaves: the bytes so far and the sidecar.
        try Fixture.small.prefix(500_000).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        let sidecar = #"{"url":"\#(server.url("/tiny.gguf"))","expectedSHA256":"\#(Fixture.smallSHA256)","#
            + #""totalBytes":\#(Fixture.small.count),"validator":"\"fixture-\#(Fixture.small.count)\""}"#
        try Data(sidecar.utf8).write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        #expect(!test.exists(test.model("tiny")))

        let log = ProgressLog(watching: test.model("tiny"))
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256, progress: log.record)
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(server.requests.first?.range == "bytes=500000-")
        #expect(server.requests.allSatisfy { $0.range != nil }, "never restarted from zero")
        #expect(log.all.contains { $0.phase == "checking partial download" })
        #expect(!log.finalPathAppearedEarly)
        #expect(try test.leftovers() == [])
    }

    @Test func aPartialOfADifferentURLIsNotResumed() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        try Fixture.other.prefix(500_000).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        try Data(#"{"url":"https://elsewhere.example/tiny.gguf"}"#.utf8).write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(server.requests.first.map { $0.range == nil } == true)
        #expect(server.requests.dropFirst().allSatisfy { $0.range != nil }, "later requests only resume")
    }

    @Test func aPartialThatIsNotGGUFIsDiscardedNotResumed() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        // A partial that once came from a login page, under the same URL.
        try Data("<html>please log in</html>".utf8).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        try Data(#"{"url":"\#(server.url("/tiny.gguf"))"}"#.utf8).write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        let model = try await test.store.pull(server.url("/tiny.gguf")) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(server.requests.first.map { $0.range == nil } == true)
        #expect(server.requests.dropFirst().allSatisfy { $0.range != nil }, "later requests only resume")
    }

    @Test func aServerThatIgnoresRangeSendsItAllAndWeStartOver() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        server.ignoreRange(true)
        try Fixture.small.prefix(400_000).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        try Data(#"{"url":"\#(server.url("/tiny.gguf"))"}"#.utf8).write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        let model = try await test.store.pull(server.url("/tiny.gguf")) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)  // 200 answer: the partial was dropped, not appended to
        #expect(server.requests.first?.range == "bytes=400000-")
    }

    @Test func aWrongContentRangeRestartsFromZero() async throws {
        var test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        server.misreportRange(true)
        test.store.policy.maximumAttempts = 6
        try Fixture.small.prefix(400_000).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        try Data(#"{"url":"\#(server.url("/tiny.gguf"))","expectedSHA256":"\#(Fixture.smallSHA256)"}"#.utf8)
            .write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(server.requests.map(\.range) == ["bytes=400000-", nil])
    }

    @Test func aCompletePartialIsFinishedByA416() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        try Fixture.small.write(to: test.tmp.appendingPathComponent("tiny.partial"))
        try Data(#"{"url":"\#(server.url("/tiny.gguf"))","expectedSHA256":"\#(Fixture.smallSHA256)"}"#.utf8)
            .write(to: test.tmp.appendingPathComponent("tiny.partial.json"))
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(server.requests.map(\.range) == ["bytes=\(Fixture.small.count)-"])
    }

    @Test func wrongChecksumIsRejectedAndNothingIsKept() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Fixture.small)
        do {
            _ = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.otherSHA256) { _ in }
            Issue.record("a wrong sha256 must fail")
        } catch let error as StoreError {
            #expect(error.code == .checksumMismatch)
            #expect(error.description.contains("expected \(Fixture.otherSHA256), got \(Fixture.smallSHA256)"))
        }
        #expect(!test.exists(test.model("tiny")))
        #expect(try test.leftovers() == [])
    }

    @Test func notFoundIsAClearError() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        do {
            _ = try await test.store.pull(server.url("/missing.gguf")) { _ in }
            Issue.record("a 404 must fail")
        } catch let error as StoreError {
            #expect(error.code == .httpStatus)
            #expect(error.description == "HTTP 404 Not Found for \(server.url("/missing.gguf"))")
        }
        #expect(server.requests.count == 1)  // a 404 is not retried
        #expect(!test.exists(test.model("missing")))
        #expect(try test.leftovers() == [])
    }

    @Test func redirectsAreFollowed() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/real/tiny.gguf", Fixture.small)
        server.redirect("/tiny.gguf", to: "/real/tiny.gguf")
        let model = try await test.store.pull(server.url("/tiny.gguf"), sha256: Fixture.smallSHA256) { _ in }
        #expect(model.name == "tiny")
        #expect(Array(server.requests.map(\.path).prefix(2)) == ["/tiny.gguf", "/real/tiny.gguf"])
    }

    @Test func aRedirectToPlainHTTPElsewhereIsRefused() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.redirect("/tiny.gguf", to: "http://example.com/tiny.gguf")
        do {
            _ = try await test.store.pull(server.url("/tiny.gguf")) { _ in }
            Issue.record("a redirect to non-loopback http must be refused")
        } catch let error as StoreError {
            #expect(error.code == .invalidSource)
        }
        #expect(server.requests.count == 1)
    }

    @Test func anHTMLPageIsNotAModel() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/tiny.gguf", Data("<!DOCTYPE html><html>login page</html>".utf8))
        do {
            _ = try await test.store.pull(server.url("/tiny.gguf")) { _ in }
            Issue.record("HTML must be refused")
        } catch let error as StoreError {
            #expect(error.code == .notGGUF)
            #expect(error.description.contains("'<!DO'"))
        }
        #expect(try test.leftovers() == [])
    }

    @Test("URLs with other schemes, or plain http to other hosts, are refused before any request", arguments: [
        "ftp://127.0.0.1/x.gguf", "http://example.com/x.gguf", "http://10.0.0.1/x.gguf", "file:///etc/passwd", "https:///nohost.gguf",
    ])
    func refusedURLs(_ url: String) async throws {
        let test = try TestStore()
        do {
            _ = try await test.store.pull(url, sha256: Fixture.smallSHA256) { _ in }
            Issue.record("\(url) must be refused")
        } catch let error as StoreError {
            #expect(error.code == .invalidSource)
        }
    }

    @Test func aURLWhoseFileNameIsNotAValidNameNeedsAName() async throws {
        let test = try TestStore()
        let server = try TestHTTPServer()
        server.serve("/..gguf", Fixture.small)
        await #expect(throws: StoreError.self) { _ = try await test.store.pull(server.url("/..gguf")) { _ in } }
        #expect(server.requests.isEmpty)
    }
}
