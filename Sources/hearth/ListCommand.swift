import ArgumentParser
import Foundation
import Store

/// `hearth list [--json]` — the installed models.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List installed models.",
        aliases: ["ls"])

    @Flag(help: "Print JSON (name, path, sha256, size, source, modified) instead of a table.")
    var json = false

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let models = try store.list()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(models.isEmpty ? "[]" : String(decoding: try encoder.encode(models), as: UTF8.self))
            return
        }
        guard !models.isEmpty else {
            print("no models installed in \(store.root.path) (try: hearth pull \(store.catalog.names.first ?? "NAME"))")
            return
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let rows = [["NAME", "SIZE", "SHA256", "MODIFIED"]] + models.map { model in
            [model.name, ByteCount.format(model.size), String(model.sha256.prefix(12)), formatter.string(from: model.modified)]
        }
        print(Table.render(rows))
    }
}

/// Left-aligned columns separated by three spaces.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "   ")
        }.joined(separator: "\n")
    }
}
