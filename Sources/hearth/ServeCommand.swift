import Advisor
import ArgumentParser
import Engine
import Foundation
import Hummingbird
import Kernels
import Logging
import Server
import Store

/// `hearth serve`: the OpenAI- and Ollama-compatible HTTP API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OpenAI and Ollama HTTP APIs (loopback only, unless told otherwise).",
        discussion: """
            Binds to 127.0.0.1:11435. Binding to any other address needs --api-key (or
            --api-key-file), or --insecure-no-auth to run without one. Models load on first
            use and unload after --keep-alive without requests. SIGTERM or Ctrl-C turns
            /health to 503, waits --drain-delay seconds, stops accepting requests, lets the
            ones in flight finish, and exits. Many replicas behind a load balancer:
            docs/scaling.md.
            """)

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0 picks a free one).")
    var port = 11435

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every route but /health.")
    var apiKey: String?

    @Option(name: .customLong("api-key-file"), help: "Read the API key from this file (first line).")
    var apiKeyFile: String?

    @Option(name: .customLong("model"), help: "Load this model at start (repeatable): a name in the store, or a path to a .gguf file, served in place under its file name without .gguf.")
    var models: [String] = []

    @Option(name: .customLong("keep-alive"), parsing: .unconditional, help: "How long a model stays loaded after its last request (5m, 30s, 1h; -1 forever).")
    var keepAlive = "5m"

    @Option(help: "Context tokens of each slot.")
    var ctx = 4096

    @Option(help: "Requests one model serves side by side, each with its own KV cache (default: 4, 2 or 1, the most whose caches fit in memory).")
    var parallel: Int?

    @Option(name: .customLong("max-queue"), help: "Requests that may wait for a slot; beyond that, 503.")
    var maxQueue = 16

    @Option(name: .customLong("allowed-origin"), help: "Browser origin allowed to call the API beside the local ones Ollama allows (repeatable; * matches any run), e.g. https://chat.example.com.")
    var allowedOrigins: [String] = []

    @Option(name: .customLong("allowed-host"), help: "Host name a loopback server answers to beside this machine's own names (repeatable; *.example.com for subdomains).")
    var allowedHosts: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (debug also logs request fields accepted and ignored).")
    var logLevel = "notice"

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (unfinished headers or body, or idle between requests) before it is closed; 0 never closes it.")
    var idleTimeout: Int = 60

    @Option(name: .customLong("header-timeout"), help: "Seconds a request's headers may take from their first byte, however steadily they arrive; 0 sets no deadline.")
    var headerTimeout: Int = 30

    @Option(name: .customLong("max-connections"), help: "Open connections served at once; more are answered 503 and closed.")
    var maxConnections = 512

    @Option(name: .customLong("max-connections-per-client"), help: "Open connections served at once from one client address; more are answered 503 and closed.")
    var maxConnectionsPerClient = 128

    @Option(help: "Threads per model's forward pass (default: all cores).")
    var threads: Int?

    @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Speculate by prompt lookup (default: on for every model without a draft): the tokens that followed the answer's last tokens where they occurred before (prompt or answer) are checked in one pass. Same output, faster when answers repeat their input (edits, renames, style fixes). --ngram also turns drafts off.")
    var ngram: Bool?

    @Option(name: .customLong("draft"), help: "Speculative decoding with a draft model for requests (same output): auto (a draft `hearth bench MODEL --draft DRAFT` measured to pay on this machine, if one is installed), none, or a model that drafts for every served model with its vocabulary. A created model's DRAFT wins.")
    var draft = "auto"

    @Option(name: .customLong("draft-max"), help: "With a draft: most tokens proposed at once (1...64).")
    var draftMax = 16

    @Option(name: .customLong("draft-p-min"), help: "With a draft: stop a proposal at the first token the draft gives less than this probability.")
    var draftPMin: Float = 0.75

    @Flag(name: .customLong("llamacpp-rounding"), help: "Round every product as llama.cpp does (logits equal llama.cpp's; sequences decoding together cost more).")
    var llamaCppRounding = false

    @Flag(name: .customLong("insecure-no-auth"), help: "Allow a non-loopback bind without an API key.")
    var insecureNoAuth = false

    @OptionGroup var lora: LoRAOptions

    @OptionGroup var cache: CacheTypeOption

    @Option(name: .customLong("replica-name"), help: "This replica's name, sent on every response as X-Hearth-Replica and shown by /health and /metrics (default: the host name).")
    var replicaName: String?

    @Option(name: .customLong("drain-delay"), help: "Seconds after SIGTERM during which /health reports 503 while requests are still served, before the listener closes (time for load balancers to notice; see docs/scaling.md).")
    var drainDelay: Int = 0

    @Flag(name: .customLong("no-ledger"), help: "Do not record requests in the savings ledger (HEARTH_HOME/ledger.sqlite; see `hearth usage`).")
    var noLedger = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, got \(port)") }
        guard (16...1_048_576).contains(ctx) else { throw ValidationError("--ctx must be in 16...1048576, got \(ctx)") }
        guard (0...86_400).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be in 0...86400 seconds, got \(idleTimeout)") }
        guard (0...86_400).contains(headerTimeout) else { throw ValidationError("--header-timeout must be in 0...86400 seconds, got \(headerTimeout)") }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections must be in 1...1000000, got \(maxConnections)") }
        guard (1...maxConnections).contains(maxConnectionsPerClient) else {
            throw ValidationError("--max-connections-per-client must be in 1...\(maxConnections) (--max-connections), got \(maxConnectionsPerClient)")
        }
        if let parallel, !(1...64).contains(parallel) { throw ValidationError("--parallel must be in 1...64, got \(parallel)") }
        guard (0...10_000).contains(maxQueue) else { throw ValidationError("--max-queue must be in 0...10000, got \(maxQueue)") }
        guard (1...64).contains(draftMax) else { throw ValidationError("--draft-max must be in 1...64, got \(draftMax)") }
        guard (0...1).contains(draftPMin) else { throw ValidationError("--draft-p-min must be in 0...1, got \(draftPMin)") }
        guard !draft.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--draft needs auto, none or a model name") }
        if ngram == true, case .model = DraftSetting(draft) { throw ValidationError("--ngram and --draft are two ways to propose tokens; give one") }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if apiKey != nil && apiKeyFile != nil { throw ValidationError("give --api-key or --api-key-file, not both") }
        if let apiKey, apiKey.isEmpty || apiKey.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--api-key must be non-empty and without whitespace")
        }
        do { _ = try parseKeepAlive(keepAlive) } catch { throw ValidationError("--keep-alive: \(error.message)") }
        for origin in allowedOrigins where !(origin == "*" || origin.contains("://")) || origin.contains(where: \.isWhitespace) {
            throw ValidationError("--allowed-origin must be an origin like https://chat.example.com (or *), got '\(origin)'")
        }
        for host in allowedHosts where host.isEmpty || host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == ":" }) {
            throw ValidationError("--allowed-host must be a host name like models.example.com, got '\(host)'")
        }
        if let replicaName, replicaName.isEmpty || replicaName.utf8.count > 253
            || !replicaName.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) {
            throw ValidationError("--replica-name must be 1 to 253 printable ASCII characters without spaces, got '\(replicaName)'")
        }
        guard (0...3600).contains(drainDelay) else { throw ValidationError("--drain-delay must be in 0...3600 seconds, got \(drainDelay)") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
        }
    }

    func run() async throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.apiKey = try readKey()
        let store = try ModelStore(root: ModelStore.defaultRoot())
        (configuration.preload, configuration.servedFiles) = try Self.modelsToServe(models, store: store)
        configuration.keepAlive = try parseKeepAlive(keepAlive)
        configuration.contextLength = ctx
        configuration.parallel = parallel
        configuration.maxQueue = maxQueue
        configuration.allowedOrigins = allowedOrigins
        configuration.allowedHosts = allowedHosts
        configuration.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        configuration.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        configuration.idleTimeout = idleTimeout == 0 ? nil : .seconds(idleTimeout)
        configuration.productOrder = llamaCppRounding ? .llamaCpp : .blockSums
        configuration.speculation = ngram == false ? nil : NGramSpeculation()
        configuration.cacheType = try cache.servingType()
        configuration.draft = ngram == true ? .none : DraftSetting(draft)
        configuration.draftMaximum = draftMax
        configuration.draftMinimumProbability = draftPMin
        configuration.maxConnections = maxConnections
        configuration.maxConnectionsPerClient = maxConnectionsPerClient
        if let replicaName { configuration.replicaName = replicaName }
        configuration.drainDelay = .seconds(drainDelay)
        configuration.admitModel = { path, cacheBytes in try Self.admit(path: path, cacheBytes: cacheBytes) }

        if !configuration.isLoopback && configuration.apiKey == nil {
            guard insecureNoAuth else {
                throw ValidationErrorMessage(
                    "refusing to serve on \(host) without an API key: anyone who can reach this machine could use it. Pass --api-key KEY (or --api-key-file F), or --insecure-no-auth to accept that")
            }
            FileHandle.standardError.write(Data("warning: serving on \(host) WITHOUT authentication (--insecure-no-auth)\n".utf8))
        }
        store.removeStaleTemporaries()
        store.removeStaleBlobs()
        configuration.recordsUsage = !noLedger
        configuration.adapters = try lora.adapters()
        let server = HearthServer(configuration: configuration, store: store)
        let app = try await server.application { port in
            FileHandle.standardOutput.write(Data("Hearth \(HearthServer.version) serving the OpenAI and Ollama APIs on http://\(host.contains(":") ? "[\(host)]" : host):\(port)\n".utf8))
        }
        try await server.run(app)
    }

    /// The names to load at start, and the GGUF files among `references` served in place: a
    /// path is served under its file name without `.gguf` (as `hearth pull PATH` would name it),
    /// which must not clash with an installed model or another file.
    static func modelsToServe(_ references: [String], store: ModelStore) throws -> (preload: [String], files: [InstalledModel]) {
        var preload: [String] = []
        var files: [InstalledModel] = []
        for reference in references {
            let resolved = try store.resolve(reference)
            guard resolved.kind == .file else {
                preload.append(reference)
                continue
            }
            guard let name = ModelName.derived(fromFileName: resolved.url.lastPathComponent) else {
                throw ValidationErrorMessage("--model \(reference): its file name is not a valid model name; rename the file or import it with `hearth pull \(reference) --name NAME`")
            }
            if files.contains(where: { $0.name == name }) || (try? store.installedModel(named: name)) != nil {
                throw ValidationErrorMessage("--model \(reference): a model named '\(name)' is already served or installed; rename the file or import it with `hearth pull \(reference) --name NAME`")
            }
            let attributes = try FileManager.default.attributesOfItem(atPath: resolved.url.path)
            files.append(InstalledModel(
                name: name, path: resolved.url.path, sha256: try store.sha256(ofFileAt: resolved.url),
                size: Int64((attributes[.size] as? Int) ?? 0), source: "file:\(resolved.url.path)",
                modified: (attributes[.modificationDate] as? Date) ?? Date()))
            preload.append(name)
        }
        return (preload, files)
    }

    private func readKey() throws -> String? {
        try apiKeyFile.map(Self.readKeyFile) ?? apiKey
    }

    /// The API key in `path`: its first line, trimmed; an unreadable or empty file is named.
    static func readKeyFile(_ path: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationErrorMessage("cannot read --api-key-file '\(path)': \(error.localizedDescription)")
        }
        let key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !key.isEmpty else { throw ValidationErrorMessage("--api-key-file '\(path)' holds no key") }
        return key
    }

    /// A model loads only if its mapped weights and KV caches fit in the memory available now
    /// (with 15% for buffers): swapping would make every token crawl.
    static func admit(path: String, cacheBytes: Int) throws {
        guard !FitGate.isOverridden else { return }
        let fileBytes = Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        let needed = (fileBytes + Double(cacheBytes)) * 1.15
        guard let available = HostDevice.current().availableMemoryBytes else { return }
        if needed > available {
            throw ValidationErrorMessage(String(
                format: "needs %.2f GB (weights %.2f GB + KV cache %.2f GB + 15%%) but %.2f GB is available (set %@=1 to load anyway)",
                needed / 1e9, fileBytes / 1e9, Double(cacheBytes) / 1e9, available / 1e9, FitGate.overrideVariable))
        }
    }
}
