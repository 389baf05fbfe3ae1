import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs untrusted Python (a model's answer and its tests) where it can do little harm: a fresh
/// `python3 -I` in a temporary directory of its own, with limits on memory, CPU, file size and
/// wall-clock time, its own process group (killed whole when it ends or overruns, so a spawned
/// child cannot outlive it), and no network — a network namespace of its own (`unshare -rn`)
/// where the system allows one, and the socket functions disabled inside Python everywhere.
public final class Sandbox: Sendable {
    public struct Limits: Sendable, Equatable {
        public var wallSeconds: Double
        public var memoryBytes: Int
        public var fileBytes: Int

        public init(wallSeconds: Double = 10, memoryBytes: Int = 1 << 30, fileBytes: Int = 1 << 20) {
            self.wallSeconds = wallSeconds
            self.memoryBytes = memoryBytes
            self.fileBytes = fileBytes
        }
    }

    /// How the program is kept off the network.
    public enum Isolation: String, Sendable {
        /// Its own network namespace (only a loopback device, down) and Python's sockets disabled.
        case networkNamespace = "network namespace"
        /// Python's socket functions disabled (no namespace here: macOS, or a system that forbids them).
        case pythonOnly = "python sockets disabled"
    }

    public struct Outcome: Sendable, Equatable {
        public var passed: Bool
        public var timedOut: Bool
        public var detail: String
    }

    public let python: String
    public let limits: Limits
    public let isolation: Isolation
    private let unshare: String?

    /// A sandbox over `python` (found on PATH), probing once whether a network namespace can be made.
    public init(python: String = "python3", limits: Limits = Limits()) throws {
        self.python = try Self.resolve(python)
        self.limits = limits
        #if os(Linux)
        if let unshare = Self.which("unshare"), Self.succeeds([unshare, "-rn", self.python, "-c", "pass"]) {
            self.unshare = unshare
            isolation = .networkNamespace
        } else {
            unshare = nil
            isolation = .pythonOnly
        }
        #else
        unshare = nil
        isolation = .pythonOnly
        #endif
    }

    /// Runs `program`; passed when it ran to its end (every test's assertion held) in the limits.
    /// Blocks a thread of its own, never a cooperative one.
    public func run(_ program: String) async -> Outcome {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.runBlocking(program)) }
            thread.start()
        }
    }

    func runBlocking(_ program: String) -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hearth-eval-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let programURL = directory.appendingPathComponent("solution.py")
            try Data(program.utf8).write(to: programURL)
            let verdictURL = directory.appendingPathComponent("verdict")
            let arguments = (unshare.map { [$0, "-rn"] } ?? []) + [python, "-I", "-B", "-c", driver, programURL.path, verdictURL.path]
            let environment = ["PATH=/usr/bin:/bin", "HOME=\(directory.path)", "TMPDIR=\(directory.path)", "LANG=C.UTF-8",
                               "PYTHONIOENCODING=utf-8"]
            let errorURL = directory.appendingPathComponent("stderr")
            let pid = try Self.spawn(arguments, environment: environment, output: directory.appendingPathComponent("stdout").path,
                                     error: errorURL.path)
            let (status, timedOut) = Self.wait(for: pid, seconds: limits.wallSeconds)
            if timedOut { return Outcome(passed: false, timedOut: true, detail: "timed out after \(limits.wallSeconds) s") }
            if FileManager.default.contents(atPath: verdictURL.path) == Data("passed".utf8) && status == 0 {
                return Outcome(passed: true, timedOut: false, detail: "passed")
            }
            return Outcome(passed: false, timedOut: false, detail: Self.failure(status: status, stderr: errorURL))
        } catch {
            return Outcome(passed: false, timedOut: false, detail: "could not run: \(error)")
        }
    }

    /// What the program's end says: the last line of its error output (the exception), or how it ended.
    static func failure(status: Int32, stderr: URL) -> String {
        let text = (FileManager.default.contents(atPath: stderr.path)).map { String(decoding: $0.suffix(4096), as: UTF8.self) } ?? ""
        let last = text.split(separator: "\n").last.map { String($0.prefix(200)) }
        let ending = status & 0x7F != 0 ? "killed by signal \(status & 0x7F)" : "exit status \((status >> 8) & 0xFF)"
        return last.map { "\($0) (\(ending))" } ?? ending
    }

    /// The driver: limits, sockets off, then the program run as a module (so an
    /// `if __name__ == "__main__":` demonstration in an answer is not run), then the verdict file.
    private var driver: String {
        """
        import os, resource, sys
        def _limit(kind, value):
            try:
                resource.setrlimit(kind, (value, value))
            except (ValueError, OSError):
                pass
        _limit(resource.RLIMIT_AS, \(limits.memoryBytes))
        _limit(resource.RLIMIT_DATA, \(limits.memoryBytes))
        _limit(resource.RLIMIT_FSIZE, \(limits.fileBytes))
        _limit(resource.RLIMIT_CPU, \(Int(limits.wallSeconds.rounded(.up)) + 1))
        _limit(resource.RLIMIT_CORE, 0)
        import socket
        def _no_network(*args, **kwargs):
            raise OSError("network access is disabled in the evaluation sandbox")
        for _name in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
            setattr(socket.socket, _name, _no_network)
        socket.create_connection = _no_network
        socket.getaddrinfo = _no_network
        _program, _verdict = sys.argv[1], sys.argv[2]
        del sys.argv[1:]
        os.chdir(os.path.dirname(_program))
        with open(_program, encoding="utf-8") as _file:
            _source = _file.read()
        try:
            exec(compile(_source, "solution.py", "exec"), {"__name__": "__solution__"})
        except SystemExit as _exit:
            sys.stderr.write("the program exited (%r) before its tests finished\\n" % (_exit.code,))
            os._exit(3)
        with open(_verdict, "w") as _file:
            _file.write("passed")
        os._exit(0)
        """
    }

    // MARK: - processes

    /// Starts `arguments` in a process group of its own, stdin from /dev/null, output to files.
    static func spawn(_ arguments: [String], environment: [String], output: String, error: String) throws -> pid_t {
        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #else
        var actions: posix_spawn_file_actions_t?
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, error, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else { throw EvalError("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for `pid` at most `seconds`; its whole process group is killed either way. The wait
    /// status, and whether time ran out.
    static func wait(for pid: pid_t, seconds: Double) -> (status: Int32, timedOut: Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result == -1 && errno != EINTR) {
                // Children the program left behind share its group.
                kill(-pid, SIGKILL)
                return (status, false)
            }
            if Date() >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                return (status, true)
            }
            usleep(5_000)
        }
    }

    /// Runs `arguments` (first: an absolute path) quietly; whether it exited 0 within 10 s.
    static func succeeds(_ arguments: [String]) -> Bool {
        let devNull = "/dev/null"
        guard let pid = try? spawn(arguments, environment: ["PATH=/usr/bin:/bin"], output: devNull, error: devNull) else { return false }
        let (status, timedOut) = wait(for: pid, seconds: 10)
        return !timedOut && status == 0
    }

    static func which(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The interpreter's own path (`sys.executable`), so a launcher such as pyenv's shim — which
    /// needs the user's HOME — is not between the sandbox and Python.
    static func resolve(_ python: String) throws -> String {
        if python.contains("/") && !FileManager.default.isExecutableFile(atPath: python) {
            throw EvalError("'\(python)' is not an executable file: the HumanEval suite runs each answer's tests with Python 3")
        }
        guard let launcher = python.contains("/") ? python : which(python) else {
            throw EvalError("'\(python)' is not on PATH: the HumanEval suite runs each answer's tests with Python 3")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher)
        process.arguments = ["-c", "import sys; assert sys.version_info >= (3, 8); print(sys.executable)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw EvalError("cannot run \(launcher): \(error)") }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, path.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: path) else {
            throw EvalError("\(launcher) is not a working Python 3.8 or later")
        }
        return path
    }
}
