import ArgumentParser
import Engine

/// `--cache-type`: how the KV cache stores keys and values (llama.cpp's `-ctk`/`-ctv` together).
struct CacheTypeOption: ParsableArguments {
    @Option(name: .customLong("cache-type"),
            help: "KV cache type: f16 (default, llama.cpp's) or q8_0 (53% of the memory, so about twice the context; llama.cpp's -ctk q8_0 -ctv q8_0).")
    var cacheType: KVCacheType = .f16
}

extension KVCacheType: ExpressibleByArgument {}
