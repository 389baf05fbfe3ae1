import Foundation
import Testing

@testable import Eval

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sandbox that runs answers' tests: a program that holds passes; one that fails, loops,
/// allocates without end, reaches for the network, leaves children behind, exits early or floods
/// its output is failed — and the harness comes back promptly every time.
@Suite struct SandboxTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox(limits: .init(wallSeconds: 3, memoryBytes: 256 << 20, fileBytes: 1 << 16))
    }

    @Test func passesAProgramWhoseTestsHold() async {
        let outcome = await sandbox.run("def f(x):\n    return x * 2\n\nassert f(2) == 4\n")
        #expect(outcome == .init(passed: true, timedOut: false, detail: "passed"))
    }

    @Test func failsAFailingAssertionAndSaysWhy() async {
        let outcome = await sandbox.run("assert 1 + 1 == 3, 'arithmetic is broken'\n")
        #expect(!outcome.passed)
        #expect(outcome.detail.contains("AssertionError: arithmetic is broken"))
    }

    // These two time the sandbox's own thread (`runBlocking`): awaiting `run` also measures how
    // long a busy test process takes to give the test a cooperative thread back.
    @Test func killsAnEndlessLoop() {
        let start = Date()
        let outcome = sandbox.runBlocking("while True:\n    pass\n")
        #expect(!outcome.passed && outcome.timedOut)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func stopsEndlessAllocation() {
        let start = Date()
        let outcome = sandbox.runBlocking("chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))\n")
        #expect(!outcome.passed)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func keepsTheProgramOffTheNetwork() async throws {
        // A server on this machine's loopback: reachable by anything not sandboxed.
        #if os(Linux)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let listener = socket(AF_INET, stream, 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        #if !os(Linux)
        address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        for attempt in [
            "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:\(port)/', timeout=2)\n",
            // Past Python's socket module, straight to the C one: only the namespace stops this.
            "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\ns.settimeout(2)\ns.connect(('127.0.0.1', \(port)))\n",
        ] where sandbox.isolation == .networkNamespace || attempt.contains("urllib") {
            let outcome = await sandbox.run(attempt)
            #expect(!outcome.passed, "\(attempt)")
        }
        // Nothing connected.
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        #expect(accept(listener, nil, nil) == -1)
    }

    @Test func killsChildrenLeftBehind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pidFile = directory.appendingPathComponent("child.pid").path
        let outcome = await sandbox.run("""
            import subprocess
            child = subprocess.Popen(['sleep', '600'])
            open(\(String(reflecting: pidFile)), 'w').write(str(child.pid))
            """)
        #expect(outcome.passed)
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
        // Killed at once; a zombie waiting for its reaper counts as gone.
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(pid, 0) == 0 && !Self.isZombie(pid)
            if alive { usleep(20_000) }
        }
        #expect(!alive)
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test func failsAProgramThatExitsBeforeItsTestsFinish() async {
        for early in ["import sys\nsys.exit(0)\nassert False\n", "import os\nos._exit(0)\n", "exit()\n"] {
            let outcome = await sandbox.run(early)
            #expect(!outcome.passed, "\(early)")
        }
    }

    @Test func survivesAFloodOfOutput() async {
        let outcome = await sandbox.run("while True:\n    print('x' * 10000)\n")
        #expect(!outcome.passed)
    }

    @Test func doesNotRunAMainBlock() async {
        let outcome = await sandbox.run("if __name__ == '__main__':\n    raise SystemExit(1)\n")
        #expect(outcome.passed)
    }

    @Test func refusesAMissingPython() {
        #expect(throws: EvalError.self) { try Sandbox(python: "no-such-python-\(UUID().uuidString)") }
        #expect(throws: EvalError("'/nonexistent/python3' is not an executable file: the HumanEval suite runs each answer's tests with Python 3")) {
            try Sandbox(python: "/nonexistent/python3")
        }
    }
}
