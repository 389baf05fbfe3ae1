// swift-tools-version: 6.0
import Foundation
import PackageDescription

// The fuzz harness: one libFuzzer target per parser of untrusted input. Built on its own (not
// part of Hearth's package) because every module in it is compiled with the fuzzer's coverage
// instrumentation and the address sanitizer:
//
//     swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address
//
// scripts/fuzz builds and runs them. A path dependency's identity is its folder's name, which is
// whatever the clone was called; read it from where this file is.
let hearth = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let hearthIdentity = hearth.lastPathComponent.lowercased()

let package = Package(
    name: "HearthFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: hearth.path),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzDriver", .product(name: "JSON", package: hearthIdentity)]),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzDriver", .product(name: "GGUF", package: hearthIdentity)]),
        .executableTarget(name: "FuzzTemplates", dependencies: ["FuzzDriver", .product(name: "Templates", package: hearthIdentity)]),
        .executableTarget(
            name: "FuzzGrammar",
            dependencies: ["FuzzDriver", .product(name: "Grammar", package: hearthIdentity), .product(name: "JSON", package: hearthIdentity)]
        ),
    ]
)
