import Engine
import Foundation
import Store
import Kernels
import Logging

/// How `hearth serve` runs; every field has been validated by the command line before it
/// gets here.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// LoRA adapters added to every model the server loads (`serve --lora`, for one `--model`).
    public var adapters: [LoRAAdapter] = []
    /// Record every answered request in the savings ledger (`HEARTH_HOME/ledger.sqlite`).
    public var recordsUsage = true
    public var port = 11435
    /// Bearer token every route but `/health` requires; nil means no authentication.
    public var apiKey: String?
    /// Models loaded at start (others load on first use).
    public var preload: [String] = []
    /// GGUF files outside the store that the operator named (`serve --model PATH.gguf`), served
    /// in place under their names. Requests can only name these; they never open a path.
    public var servedFiles: [InstalledModel] = []
    /// How long a model stays loaded after its last request; nil keeps it forever.
    public var keepAlive: Duration? = .seconds(300)
    /// Context tokens of each slot.
    public var contextLength = 4096
    /// Conversations one model serves side by side (each with its own KV cache). nil chooses per
    /// model from memory: the largest of `automaticParallel` whose caches fit (Ollama's rule).
    public var parallel: Int? = nil
    /// The slot counts tried, largest first, when `parallel` is nil.
    public static let automaticParallel = [4, 2, 1]
    /// Requests that may wait for a slot before new ones get 503.
    public var maxQueue = 16
    /// Bytes of KV blocks each model keeps for prompt-prefix reuse.
    public var prefixCacheBytes = 256 << 20
    /// Origins allowed to call from a browser (CORS) beside Ollama's defaults (localhost and
    /// 127.0.0.1 on any port, `app://`, `file://`, `tauri://`, `vscode-webview://`); a `*` in an
    /// entry matches any run of characters.
    public var allowedOrigins: [String] = []
    /// Host names a loopback server answers to beside the local ones (DNS-rebinding protection).
    public var allowedHosts: [String] = []
    /// How much the server logs.
    public var logLevel: Logger.Level = .notice
    /// The float order of the models' quantised products: block sums by default, which let
    /// sequences decoding together share the work at about half the float cost of llama.cpp's
    /// order (`--llamacpp-rounding` picks `.llamaCpp`, whose logits equal llama.cpp's).
    public var productOrder: ProductOrder = .blockSums
    /// How the models' KV caches store keys and values (`--kv-cache-type`; Ollama's
    /// `OLLAMA_KV_CACHE_TYPE`): q8_0 holds about twice the context in the same memory.
    public var cacheType: KVCacheType = .f16
    /// Speculative decoding by prompt lookup for every generation (`--ngram`): the same output,
    /// fewer passes when answers repeat their input. nil: off.
    public var speculation: NGramSpeculation? = nil
    /// Speculative decoding with a draft model (`--draft`; a created model's `DRAFT` wins), for
    /// requests without prompt lookup; `--draft-max` and `--draft-p-min` as in `hearth run`.
    public var draft: DraftSetting = .automatic
    public var draftMaximum = 16
    public var draftMinimumProbability: Float = 0.75
    /// Forward-pass threads of each loaded model.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 8 << 20
    /// Deepest JSON nesting accepted in a request body.
    public var maxJSONDepth = 64
    /// A connection that sends nothing for this long is closed: before its request's headers are
    /// complete, between bytes of its body, or idle between requests (keep-alive). A request that
    /// has been read is never cut short while its answer is computed. nil: never.
    public var idleTimeout: Duration? = .seconds(60)
    /// A request's headers must be complete this long after their first byte arrives, however
    /// steadily they trickle in; the connection is closed otherwise. nil: no deadline.
    public var headerTimeout: Duration? = .seconds(30)
    /// Open connections beyond this are answered 503 and closed at once.
    public var maxConnections = 512
    /// Open connections from one client address beyond this are answered 503 and closed at once.
    public var maxConnectionsPerClient = 128
    /// This replica's name, sent back on every response (`X-Hearth-Replica`), in `/health` and
    /// in `/metrics`: which of many replicas behind a balancer answered (`--replica-name`).
    public var replicaName = ProcessInfo.processInfo.hostName
    /// After SIGTERM, how long `/health` reports 503 while requests are still served, before the
    /// listener closes: the time balancers need to notice (`--drain-delay`).
    public var drainDelay: Duration = .zero
    /// Called before a model loads with its file path and the KV-cache bytes the slots need;
    /// throws when the machine cannot hold it (the request then fails instead of swapping).
    public var admitModel: @Sendable (_ path: String, _ cacheBytes: Int) throws -> Void = { _, _ in }

    public init() {}

    /// Whether the address only accepts connections from this machine.
    public var isLoopback: Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) || host.hasPrefix("127.")
    }
}

/// Parses Ollama-style durations: `5m`, `30s`, `1h30m`, `250ms`, a bare number of seconds;
/// a negative value means "forever" (nil).
public func parseKeepAlive(_ text: String) throws(APIError) -> Duration? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard !trimmed.isEmpty else { throw .invalidField("keep_alive", "is empty; expected a duration like 5m") }
    if let seconds = Double(trimmed) {
        guard seconds.isFinite, seconds < 1e9 else { throw .invalidField("keep_alive", "out of range: \(text)") }
        return seconds < 0 ? nil : .milliseconds(Int64(seconds * 1000))
    }
    var rest = Substring(trimmed)
    var negative = false
    if rest.hasPrefix("-") { negative = true; rest = rest.dropFirst() }
    var total: Double = 0
    let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
    while !rest.isEmpty {
        let digits = rest.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let value = Double(digits) else {
            throw .invalidField("keep_alive", "expected a duration like 5m, 30s or 1h, got '\(text)'")
        }
        rest = rest.dropFirst(digits.count)
        guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else {
            throw .invalidField("keep_alive", "expected a unit (ms, s, m, h) in '\(text)'")
        }
        rest = rest.dropFirst(unit.0.count)
        total += value * unit.1
    }
    guard total < 1e9 else { throw .invalidField("keep_alive", "out of range: \(text)") }
    return negative ? nil : .milliseconds(Int64(total * 1000))
}
