import Foundation

/// A tiktoken rank file (`cl100k_base.tiktoken`: a line per token, "base64-bytes rank"): enough
/// to turn the ids of OpenAI's tokenizer back into text. Clients built on the OpenAI SDK
/// (LangChain's `OpenAIEmbeddings`, LlamaIndex, GraphRAG) send embedding inputs as such ids.
public struct TiktokenVocabulary: Sendable {
    /// Bytes of each token, indexed by rank.
    private let tokens: [[UInt8]]
    /// Special tokens above the ranks (cl100k_base's end-of-text and fill-in-the-middle markers).
    private let special: [Int32: String]

    /// cl100k_base's special tokens, which the rank file does not list.
    public static let cl100kSpecialTokens: [Int32: String] = [
        100257: "<|endoftext|>", 100258: "<|fim_prefix|>", 100259: "<|fim_middle|>", 100260: "<|fim_suffix|>",
        100276: "<|endofprompt|>",
    ]

    public init(contents: String, special: [Int32: String] = [:]) throws(TiktokenError) {
        var tokens: [[UInt8]] = []
        for (index, line) in contents.split(whereSeparator: \.isNewline).enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let bytes = Data(base64Encoded: String(parts[0])), let rank = Int(parts[1]) else {
                throw TiktokenError("line \(index + 1) is not 'base64 rank'")
            }
            guard rank == tokens.count else { throw TiktokenError("line \(index + 1): rank \(rank), expected \(tokens.count)") }
            tokens.append(Array(bytes))
        }
        guard !tokens.isEmpty else { throw TiktokenError("the file lists no tokens") }
        self.tokens = tokens
        self.special = special
    }

    public var count: Int { tokens.count }

    /// The text of `ids`; an id that is neither a rank nor a special token is an error.
    public func decode(_ ids: [Int32]) throws(TiktokenError) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if id >= 0, Int(id) < tokens.count {
                bytes += tokens[Int(id)]
            } else if let text = special[id] {
                bytes += Array(text.utf8)
            } else {
                throw TiktokenError("token id \(id) is not in the vocabulary of \(tokens.count) tokens")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

public struct TiktokenError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
