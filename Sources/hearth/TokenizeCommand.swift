import ArgumentParser
import Engine
import Foundation
import Store

/// `hearth tokenize MODEL TEXT`: token ids as one JSON array, like `llama-tokenize --ids`.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text as a JSON array.")

    @Argument(help: "Catalog name, installed name, or path to a .gguf file.")
    var model: String

    @Argument(help: "Text to tokenize (or use --file).")
    var text: String?

    @Option(help: "Read the text from this file.")
    var file: String?

    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS token the model would add.")
    var noBOS = false

    @Flag(name: .customLong("no-special"), help: "Treat special-token text as plain text (llama.cpp's --no-parse-special).")
    var noSpecial = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give either TEXT or --file, not both or neither") }
    }

    func run() async throws {
        let input: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationErrorMessage("cannot read --file '\(file)'")
            }
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = text ?? ""
        }
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let located = try await ModelLocator(store: store).locate(model, pullIfMissing: true)
        let tokenizer = try TokenizerLoader.load(path: located.path)
        let ids = tokenizer.encode(input, addSpecial: !noBOS, parseSpecial: !noSpecial)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
