import ArgumentParser
import Engine
import Foundation

/// `--cache-type`: how the KV cache stores keys and values (llama.cpp's `-ctk`/`-ctv` together).
struct CacheTypeOption: ParsableArguments {
    @Option(name: .customLong("cache-type"),
            help: "KV cache type: f16 (default, llama.cpp's) or q8_0 (53% of the memory, so about twice the context; llama.cpp's -ctk q8_0 -ctv q8_0).")
    var given: KVCacheType?

    var cacheType: KVCacheType { given ?? .f16 }

    /// `hearth serve`'s type: `--cache-type`, else Ollama's `OLLAMA_KV_CACHE_TYPE` (what an
    /// Ollama user already set), else f16.
    func servingType(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KVCacheType {
        if let given { return given }
        guard let text = environment["OLLAMA_KV_CACHE_TYPE"]?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty else {
            return .f16
        }
        guard let type = KVCacheType(rawValue: text) else {
            throw ValidationErrorMessage("OLLAMA_KV_CACHE_TYPE=\(text): Hearth's KV cache types are \(KVCacheType.allCases.map(\.rawValue).joined(separator: ", ")) (or unset it)")
        }
        return type
    }
}

extension KVCacheType: ExpressibleByArgument {}
