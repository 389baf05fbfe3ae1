import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Store
import Testing
@testable import Server

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Findings of the hostile-input campaign (issue 20) that the routes answer now.
@Suite struct HardeningTests {
    /// A pull of a model that is already being pulled is a conflict (409), not a server error,
    /// streamed or not.
    @Test func aSecondPullOfTheSameModelIsAConflict() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-pull-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try ModelStore(root: root)
        // Hold the pull's lock as a running pull (here or in another process) does.
        let lockPath = root.appendingPathComponent("tmp/smollm2:135m.lock").path
        let descriptor = open(lockPath, O_RDWR | O_CREAT, 0o644)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        #expect(store.isPulling("smollm2:135m"))
        let app = try makeApplication(store: store)
        try await app.test(.router) { client in
            for stream in [false, true] {
                try await client.execute(uri: "/api/pull", method: .post, headers: jsonHeaders,
                                         body: body(#"{"model":"smollm2:135m","stream":\#(stream)}"#)) { response in
                    #expect(response.status == .conflict, "stream \(stream): \(response.status)")
                    #expect(parse(response)["error"]?.string?.contains("in progress") == true)
                }
            }
        }
    }

    /// Ollama's `insecure` is a boolean; anything else is refused, not ignored.
    @Test func pullFieldsAreTypeChecked() async throws {
        let app = try makeApplication()
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/pull", method: .post, headers: jsonHeaders,
                                     body: body(#"{"model":"smollm2:135m","insecure":"yes"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?.string?.contains("insecure") == true)
            }
        }
    }

    /// What a killed pull leaves in `tmp/` goes at start-up, except what another process's
    /// running pull still holds.
    @Test func staleTemporariesAreRemovedAtStartUp() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-stale-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try ModelStore(root: root)
        let temporary = root.appendingPathComponent("tmp")
        let wheels = temporary.appendingPathComponent("gemma3:270m.wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 1000).write(to: wheels.appendingPathComponent("part1.whl"))
        let partial = temporary.appendingPathComponent("smollm2:135m.partial")
        try Data(repeating: 2, count: 1000).write(to: partial)
        let running = temporary.appendingPathComponent("qwen2.5-coder:0.5b.wheels")
        try FileManager.default.createDirectory(at: running, withIntermediateDirectories: true)
        let descriptor = open(temporary.appendingPathComponent("qwen2.5-coder:0.5b.lock").path, O_RDWR | O_CREAT, 0o644)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)

        store.removeStaleTemporaries()
        #expect(!FileManager.default.fileExists(atPath: wheels.path))
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        #expect(FileManager.default.fileExists(atPath: running.path), "a pull in progress keeps its files")
    }

    /// The pool for requests' CPU work takes jobs up to its queue's bound and refuses the next
    /// with 429, rather than queueing without end.
    @Test func theCPUPoolRefusesWorkPastItsQueue() throws {
        let pool = CPUWorkPool(threads: 1, queueLimit: 2)
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        try pool.submit { started.signal(); gate.wait() }
        started.wait()
        try pool.submit { finished.signal() }
        try pool.submit { finished.signal() }
        #expect(pool.waiting == 2)
        do {
            try pool.submit {}
            Issue.record("a third waiting job was accepted")
        } catch {
            #expect(error.status == .tooManyRequests)
        }
        gate.signal()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(finished.wait(timeout: .now() + 10) == .success)
    }

    /// A body large enough to be parsed off the request's thread gives the same errors.
    @Test func largeBodiesAreParsedAndCheckedAsSmallOnes() async throws {
        let app = try makeApplication()
        let padding = String(repeating: " ", count: HearthServer.inlineJSONBytes)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                     body: body("{\"model\":\"smollm2:135m\",\(padding)\"messages\":[}")) { response in
                #expect(response.status == .badRequest)
                #expect(parse(response)["error"]?["message"]?.string?.contains("invalid JSON") == true)
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: jsonHeaders,
                                     body: body("{\"model\":\"smollm2:135m\",\(padding)\"messages\":[],\"temperature\":9}")) { response in
                #expect(response.status == .badRequest)
            }
        }
    }
}
