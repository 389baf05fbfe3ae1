import Crypto
import Foundation
import Tokenizers

/// Token ids sent to `/v1/embeddings` are OpenAI's (cl100k_base): the OpenAI SDK's clients
/// pre-tokenise with tiktoken whatever the model (LangChain's `OpenAIEmbeddings` does it on its
/// defaults), so reading them as the served model's ids would embed other text without a word.
/// Hearth reads tiktoken's own cached copy of the vocabulary — the client that produced the ids
/// fetched it — and refuses, saying how to fix it, when there is none.
enum OpenAITokenIDs {
    /// Where tiktoken downloads the file from; its cache names the copy after this URL's SHA-1.
    static let sourceURL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    /// The file's SHA-256, as tiktoken checks it.
    static let sha256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

    private static let cache = LockedVocabulary()

    /// The decoded texts of `inputs`' token-id entries (text entries pass through).
    static func texts(_ inputs: [EmbeddingInput]) throws(APIError) -> [EmbeddingInput] {
        guard inputs.contains(where: { if case .tokens = $0 { true } else { false } }) else { return inputs }
        let vocabulary = try cl100k()
        return try inputs.enumerated().map { index, input throws(APIError) -> EmbeddingInput in
            guard case .tokens(let ids) = input else { return input }
            do {
                return .text(try vocabulary.decode(ids))
            } catch {
                throw APIError.invalidField(inputs.count == 1 ? "input" : "input[\(index)]", "\(error) (OpenAI's cl100k_base)")
            }
        }
    }

    static func cl100k() throws(APIError) -> TiktokenVocabulary {
        if let vocabulary = cache.value { return vocabulary }
        for path in candidatePaths() {
            guard let data = FileManager.default.contents(atPath: path),
                  SHA256.hash(data: data).map({ String(format: "%02x", $0) }).joined() == sha256,
                  let vocabulary = try? TiktokenVocabulary(contents: String(decoding: data, as: UTF8.self),
                                                           special: TiktokenVocabulary.cl100kSpecialTokens)
            else { continue }
            cache.value = vocabulary
            return vocabulary
        }
        throw APIError.unsupported(
            "input", "token ids here are read as OpenAI's cl100k_base ids (what tiktoken gives the OpenAI SDK's clients), and no "
                + "copy of that vocabulary was found in tiktoken's cache (TIKTOKEN_CACHE_DIR, DATA_GYM_CACHE_DIR or "
                + "\(NSTemporaryDirectory())data-gym-cache). Send text instead (LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False)), "
                + "or fetch the vocabulary once with python -c 'import tiktoken; tiktoken.get_encoding(\"cl100k_base\")'")
    }

    /// tiktoken's cache: `$TIKTOKEN_CACHE_DIR`, else `$DATA_GYM_CACHE_DIR`, else the temporary
    /// folder's `data-gym-cache`, holding the file under the SHA-1 of its URL.
    static func candidatePaths() -> [String] {
        let environment = ProcessInfo.processInfo.environment
        let key = Insecure.SHA1.hash(data: Data(sourceURL.utf8)).map { String(format: "%02x", $0) }.joined()
        var folders: [String] = []
        if let folder = environment["TIKTOKEN_CACHE_DIR"], !folder.isEmpty { folders.append(folder) }
        if let folder = environment["DATA_GYM_CACHE_DIR"], !folder.isEmpty { folders.append(folder) }
        let temporary = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        folders.append((temporary as NSString).appendingPathComponent("data-gym-cache"))
        if temporary != "/tmp" { folders.append("/tmp/data-gym-cache") }
        return folders.map { ($0 as NSString).appendingPathComponent(key) }
    }
}

private final class LockedVocabulary: @unchecked Sendable {
    private let lock = NSLock()
    private var vocabulary: TiktokenVocabulary?

    var value: TiktokenVocabulary? {
        get { lock.withLock { vocabulary } }
        set { lock.withLock { vocabulary = newValue } }
    }
}
