import ArgumentParser
import Foundation
import Store

/// `hearth rm NAME...` — deletes installed models.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove installed models.",
        aliases: ["remove"])

    @Argument(help: "Names of installed models.")
    var names: [String]

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("give at least one model name") }
    }

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        for name in names {
            try store.remove(name)
            print("removed \(name)")
        }
    }
}
