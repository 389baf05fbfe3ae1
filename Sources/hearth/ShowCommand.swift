import ArgumentParser
import Foundation
import GGUF
import Store

/// `hearth show MODEL [--json]`: what a model file is, read from its GGUF header.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a model's architecture, size, quantisation, tokenizer and checksum."
    )

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true)
        let file = try GGUFFile(path: located.path)
        let summary = GGUFSummary(file)
        let sha256 = try store.sha256(ofFileAt: URL(fileURLWithPath: located.path))
        let report = ModelReport(name: located.name, path: located.path, sha256: sha256, summary: summary)
        if json {
            print(try report.jsonString())
        } else {
            print(report.table())
        }
    }
}

/// What `show` prints, in one place so the table and the JSON never disagree.
struct ModelReport: Encodable {
    let name: String?
    let path: String
    let sha256: String
    let summary: GGUFSummary

    func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        var rows: [(String, String)] = []
        if let name { rows.append(("name", name)) }
        rows.append(("path", path))
        rows.append(("architecture", summary.architecture))
        if let modelName = summary.name { rows.append(("model name", modelName)) }
        rows.append(("parameters", Formatting.parameterCount(summary.parameterCount)))
        rows.append(("file type", summary.fileType))
        let mix = summary.tensorTypes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        rows.append(("tensor types", "\(mix) (\(summary.tensorCount) tensors)"))
        rows.append(("context length", summary.contextLength.map(String.init) ?? "unknown"))
        rows.append(("embedding size", summary.embeddingLength.map(String.init) ?? "unknown"))
        rows.append(("layers", summary.blockCount.map(String.init) ?? "unknown"))
        let heads = summary.headCount.map(String.init) ?? "unknown"
        let kvHeads = summary.headCountKV.map(String.init) ?? heads
        rows.append(("heads", "\(heads) (KV heads \(kvHeads))"))
        var tokenizer = summary.tokenizerModel ?? "none"
        if let pre = summary.tokenizerPre { tokenizer += " (pre-tokenizer \(pre))" }
        if let vocabularySize = summary.vocabularySize { tokenizer += ", \(vocabularySize) tokens" }
        rows.append(("tokenizer", tokenizer))
        rows.append(("chat template", summary.hasChatTemplate ? "yes" : "no"))
        rows.append(("file size", "\(Formatting.bytes(summary.fileSize)) (\(summary.fileSize) bytes)"))
        rows.append(("gguf version", String(summary.version)))
        rows.append(("sha256", sha256))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }
}
