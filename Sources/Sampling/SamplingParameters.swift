/// The knobs of the sampler chain, validated before any token is drawn.
///
/// Defaults follow llama.cpp's (`common_params_sampling`), so `hearth run` without flags samples
/// the way `llama-cli` does.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// 0 means greedy (always the most likely token).
    public var temperature: Float = 0.8
    /// Keep only the K most likely tokens; 0 disables.
    public var topK: Int = 40
    /// Keep the smallest set of tokens whose probabilities add up to P; 1 disables.
    public var topP: Float = 0.95
    /// Drop tokens less likely than `minP ×` the most likely one; 0 disables.
    public var minP: Float = 0.05
    /// Divide (positive) or multiply (negative) logits of recently seen tokens; 1 disables.
    public var repeatPenalty: Float = 1.0
    /// How many recent tokens the penalties look at; 0 disables, -1 means the whole context.
    public var repeatLastN: Int = 64
    /// Subtracted once from the logit of every token already seen.
    public var presencePenalty: Float = 0
    /// Subtracted from a token's logit once per time it was seen.
    public var frequencyPenalty: Float = 0
    /// Same seed, same prompt, same model ⇒ same output. `nil` draws a random seed.
    public var seed: UInt64? = nil
    /// Locally typical sampling: keep the tokens whose surprise is closest to the distribution's
    /// entropy, up to this much probability. It cuts bland *and* wild tokens, which top-p cannot.
    /// Between top-k and top-p in the chain; 1 disables.
    public var typicalP: Float = 1
    /// 0 off, 1 Mirostat, 2 Mirostat 2.0. Mirostat steers the truncation itself to hold each
    /// token's surprise near `mirostatTau`, so top-k, typical-p, top-p and min-p are not used.
    public var mirostat: Int = 0
    /// Mirostat's target surprise, in bits per token: lower is more focused, higher more varied.
    public var mirostatTau: Float = 5
    /// How fast Mirostat corrects towards `mirostatTau` after each token.
    public var mirostatEta: Float = 0.1
    /// Added to a token's logit before anything else (OpenAI's `logit_bias`), -100…100. Logits
    /// span a few tens, so -100 is in effect a ban and +100 in effect forces the token.
    public var logitBias: [Int32: Float] = [:]

    public init() {}

    public init(
        temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
        repeatPenalty: Float = 1.0, repeatLastN: Int = 64, presencePenalty: Float = 0,
        frequencyPenalty: Float = 0, seed: UInt64? = nil, typicalP: Float = 1,
        mirostat: Int = 0, mirostatTau: Float = 5, mirostatEta: Float = 0.1,
        logitBias: [Int32: Float] = [:]
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
        self.typicalP = typicalP
        self.mirostat = mirostat
        self.mirostatTau = mirostatTau
        self.mirostatEta = mirostatEta
        self.logitBias = logitBias
    }

    /// Greedy decoding: what `--temp 0` gives.
    public static let greedy = SamplingParameters(temperature: 0, topK: 1, topP: 1, minP: 0)

    /// Throws a ``SamplingError`` naming the first field whose value makes no sense.
    public func validate() throws(SamplingError) {
        try Self.check("temperature", temperature, finite: true, min: 0, max: 100)
        guard topK >= 0 else { throw SamplingError(field: "top_k", reason: "must be ≥ 0 (0 disables), got \(topK)") }
        try Self.check("top_p", topP, finite: true, min: 0, max: 1)
        try Self.check("min_p", minP, finite: true, min: 0, max: 1)
        try Self.check("repeat_penalty", repeatPenalty, finite: true, min: 0, max: 100)
        guard repeatPenalty > 0 else {
            throw SamplingError(field: "repeat_penalty", reason: "must be > 0 (1 disables), got \(repeatPenalty)")
        }
        guard repeatLastN >= -1 else {
            throw SamplingError(field: "repeat_last_n", reason: "must be ≥ -1 (-1 = whole context), got \(repeatLastN)")
        }
        try Self.check("presence_penalty", presencePenalty, finite: true, min: -2, max: 2)
        try Self.check("frequency_penalty", frequencyPenalty, finite: true, min: -2, max: 2)
        try Self.check("typical_p", typicalP, finite: true, min: 0, max: 1)
        guard (0...2).contains(mirostat) else {
            throw SamplingError(field: "mirostat", reason: "must be 0 (off), 1 (Mirostat) or 2 (Mirostat 2.0), got \(mirostat)")
        }
        // Surprise is in bits: even a uniform draw over a million tokens is only 20.
        try Self.check("mirostat_tau", mirostatTau, finite: true, min: 0, max: 100)
        try Self.check("mirostat_eta", mirostatEta, finite: true, min: 0, max: 1)
        // Sorted so that of several bad entries the same one is reported every time.
        for (token, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            guard token >= 0 else {
                throw SamplingError(field: "logit_bias", reason: "token ids must be ≥ 0, got \(token)")
            }
            guard bias.isFinite, bias >= -100, bias <= 100 else {
                throw SamplingError(field: "logit_bias", reason: "bias for token \(token) must be between -100 and 100, got \(bias)")
            }
        }
    }

    private static func check(
        _ field: String, _ value: Float, finite: Bool, min: Float, max: Float
    ) throws(SamplingError) {
        guard value.isFinite else { throw SamplingError(field: field, reason: "must be a finite number, got \(value)") }
        guard value >= min, value <= max else {
            throw SamplingError(field: field, reason: "must be between \(min) and \(max), got \(value)")
        }
    }
}

/// A sampling parameter out of range; names the field as the APIs spell it.
public struct SamplingError: Error, CustomStringConvertible, Equatable, Sendable {
    public let field: String
    public let reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "invalid sampling parameter \(field): \(reason)" }
}
