// swift-tools-version: 6.0
import Foundation
import PackageDescription

// Kernels are the hot loops: built unchecked and for the CPU we run on (release builds only).
// On x86 without AMD's SSE4a: LLVM uses its `insertq`/`extrq` for some shuffles, and these
// legacy-SSE encodings stall for ~100 ns each after 256-bit AVX code on AMD CPUs (an SSE/AVX
// transition), which made one kernel ten times slower.
let kernelFlags: [SwiftSetting] = {
    #if arch(x86_64)
    let noSSE4a = ["-Xcc", "-mno-sse4a"]
    #else
    let noSSE4a: [String] = []
    #endif
    return [.unsafeFlags(["-Ounchecked", "-wmo", "-target-cpu", "native"] + noSSE4a, .when(configuration: .release))]
}()

/// Release builds target the build machine's CPU (`-target-cpu native`), so the kernels may use
/// the instructions it has where LLVM does not form them from plain loops: AVX-512 VNNI
/// (`vpdpbusd`) for every quantised product, and on AVX2 machines the byte tricks of a few
/// formats (Q5_0's fifth bits). Read from /proc/cpuinfo on Linux; `HEARTH_PORTABLE_KERNELS=1`
/// opts out (the plain-loop kernels, also what every other machine builds).
let x86Flags: Set<String> = {
    #if os(Linux) && arch(x86_64)
    guard ProcessInfo.processInfo.environment["HEARTH_PORTABLE_KERNELS"] != "1",
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    return Set(flagsLine.split(separator: " ").map(String.init))
    #else
    return []
    #endif
}()

let cpuFeatureSettings: [SwiftSetting] = {
    let needed: Set = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"]
    let avx2: Set = ["avx2", "fma", "f16c"]
    return (needed.isSubset(of: x86Flags) ? [.define("HEARTH_AVX512_VNNI", .when(configuration: .release))] : [])
        + (avx2.isSubset(of: x86Flags) ? [.define("HEARTH_AVX2", .when(configuration: .release))] : [])
}()

let package = Package(
    name: "Hearth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hearth", targets: ["hearth"]),
        .library(name: "GGUF", targets: ["GGUF"]),
        .library(name: "Store", targets: ["Store"]),
        // For the fuzz harness (Fuzz/Package.swift), which builds these with libFuzzer.
        .library(name: "JSON", targets: ["JSON"]),
        .library(name: "Templates", targets: ["Templates"]),
        .library(name: "Grammar", targets: ["Grammar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // Layer 1: leaves that import nothing of the package.
        .target(name: "GGUF"),
        .target(name: "Kernels", swiftSettings: kernelFlags + cpuFeatureSettings),
        .target(name: "Tokenizers"),
        .target(name: "Templates"),
        .target(name: "JSON"),

        // Layer 1½: the sampler chain, over the kernels' vector scans of the vocabulary.
        .target(name: "Sampling", dependencies: ["Kernels"]),

        // Layer 1½: constrained decoding (JSON Schema, GBNF, regex → token masks) over JSON values.
        .target(name: "Grammar", dependencies: ["JSON"]),
        // Tool-call formats per model family: found from the chat template, parsed from output.
        .target(name: "ToolCalls", dependencies: ["JSON", "Grammar", "Templates"]),

        // Layer 2: architectures over shared blocks, bound to memory-mapped weights.
        .target(name: "Models", dependencies: ["GGUF", "Kernels"], swiftSettings: kernelFlags),

        // Layer 3: a loaded model (weights + tokenizer), sessions, generation, perplexity.
        .target(
            name: "Engine",
            dependencies: ["GGUF", "Kernels", "Models", "Tokenizers", "Sampling", "Templates", "Grammar", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // Layer 2: the savings ledger: every answered request in SQLite, priced at a cloud model.
        .target(name: "Ledger", dependencies: ["JSON", .product(name: "GRDB", package: "GRDB.swift")]),

        // Layer 3: device profiles, measured bandwidth, fit and speed prediction.
        .target(name: "Advisor", dependencies: ["GGUF", "Kernels", "Models"]),

        // Layer 2: the model store (catalog, pull, install); reads GGUF headers, never weights.
        .target(
            name: "Store",
            dependencies: [
                "GGUF",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),

        // Layer 3: a client of OpenAI-compatible chat endpoints (the router's remote tier,
        // `hearth eval`'s endpoints).
        .target(
            name: "Remote",
            dependencies: [.product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),

        // Layer 4: the HTTP API (OpenAI and Ollama routes) over the engine and the store.
        .target(
            name: "Server",
            dependencies: [
                "Engine", "Models", "Kernels", "Store", "GGUF", "Templates", "Sampling", "JSON", "Grammar", "ToolCalls", "Tokenizers", "Ledger", "Remote",
                "Advisor",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Layer 4: `hearth eval` — suites, a sandbox for answers' code, runs against any
        // OpenAI-compatible endpoint, reports priced from the ledger's table.
        .target(
            name: "Eval",
            dependencies: [
                "Ledger", "Remote",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),

        // Top: the command-line interface.
        .executableTarget(
            name: "hearth",
            dependencies: [
                "GGUF", "Store", "Engine", "Kernels", "Tokenizers", "Sampling", "Templates", "Advisor", "Server", "JSON", "Grammar", "Ledger", "Eval", "Remote",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "GGUFTests", dependencies: ["GGUF"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "GGUF", "Kernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Models", "Tokenizers", "Sampling", "Kernels", "GGUF"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SamplingTests", dependencies: ["Sampling", "Kernels"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "JSON"]),
        .testTarget(name: "ToolCallsTests", dependencies: ["ToolCalls", "Grammar", "JSON", "Templates"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "GGUF"]),
        .testTarget(name: "TemplatesTests", dependencies: ["Templates"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AdvisorTests", dependencies: ["Advisor", "GGUF"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "JSON"]),
        .testTarget(name: "EvalTests", dependencies: ["Eval", "Ledger", "Remote"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RemoteTests", dependencies: ["Remote"]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Store", "Engine", "GGUF", "JSON", "ToolCalls",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)
