import Dispatch
import Engine
import Foundation
import Sampling

/// A conversation on the terminal: history, slash commands, and Ctrl-C that stops the answer
/// being written instead of the program.
final class ChatLoop {
    private let session: Session
    private let format: ChatFormat
    private var options: GenerationOptions
    private var system: String?
    private var history: [ChatMessage] = []
    private var verbose: Bool
    private let interrupt = InterruptFlag()
    /// Called with each answer (the ledger records it).
    var onAnswer: (GenerationResult) -> Void = { _ in }

    init(session: Session, format: ChatFormat, options: GenerationOptions, system: String?, verbose: Bool) {
        self.session = session
        self.format = format
        self.options = options
        self.system = system
        self.verbose = verbose
    }

    /// The conversation as the template sees it: the system message, then the turns.
    private var messages: [ChatMessage] {
        (system.map { [ChatMessage.system($0)] } ?? []) + history
    }

    /// Adds a user turn, streams the answer to stdout and keeps it in the history.
    @discardableResult
    func answer(_ text: String) throws -> GenerationResult {
        history.append(.user(text))
        let prompt: [Int32]
        do {
            prompt = try fittedPrompt()
        } catch {
            history.removeLast()
            throw error
        }
        interrupt.clear()
        let output = FileHandle.standardOutput
        let result: GenerationResult
        do {
            result = try session.generate(prompt: prompt, options: options) { [interrupt] piece in
                output.write(Data(piece.utf8))
                return !interrupt.isSet
            }
        } catch {
            history.removeLast()
            throw error
        }
        output.write(Data("\n".utf8))
        // A stopped answer stays in the history, as the user saw it.
        history.append(.assistant(result.text))
        onAnswer(result)
        return result
    }

    /// The rendered conversation, dropping the oldest turns when it no longer leaves room for an
    /// answer in the context (the system message always stays).
    private func fittedPrompt() throws -> [Int32] {
        let room = min(max(options.maxTokens, 1), session.contextLength / 4)
        while true {
            let tokens = try format.tokens(for: messages, addGenerationPrompt: true)
            if tokens.count + room <= session.contextLength { return tokens }
            // Drop the oldest exchange, but never the turn being asked.
            guard history.count > 1 else {
                throw ValidationErrorMessage(
                    "the message is \(tokens.count) tokens; with room for an answer that exceeds the context of \(session.contextLength) tokens (raise --ctx)")
            }
            let firstAnswer = history.dropFirst().firstIndex { $0.role == "user" } ?? history.count - 1
            history.removeSubrange(0..<firstAnswer)
            FileHandle.standardError.write(Data("(context full: the oldest turns were dropped)\n".utf8))
        }
    }

    /// Reads turns from the terminal until `/bye` or end of input.
    func runInteractive(modelName: String) throws {
        interrupt.installHandler()
        print("Chatting with \(modelName) (template: \(format.origin)). /? for help, /bye or Ctrl-D to leave.")
        while let input = readTurn() {
            let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("/") {
                if handleCommand(trimmed) { continue } else { break }
            }
            interrupt.generating = true
            defer { interrupt.generating = false }
            do {
                let result = try answer(trimmed)
                if result.finishReason == .cancelled { print("(stopped)") }
                if verbose { RunCommand.printStats(result) }
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            }
        }
    }

    /// One user turn: a line, or several between `"""` lines. nil at end of input.
    private func readTurn() -> String? {
        prompt(">>> ")
        guard let line = readLine() else {
            print("")
            return nil
        }
        guard line.trimmingCharacters(in: .whitespaces).hasPrefix("\"\"\"") else { return line }
        var lines = [String(line.trimmingCharacters(in: .whitespaces).dropFirst(3))]
        if let last = lines.last, last.hasSuffix("\"\"\"") { return String(last.dropLast(3)) }
        while true {
            prompt("... ")
            guard let next = readLine() else { return lines.joined(separator: "\n") }
            if next.hasSuffix("\"\"\"") {
                lines.append(String(next.dropLast(3)))
                return lines.joined(separator: "\n").trimmingCharacters(in: .newlines)
            }
            lines.append(next)
        }
    }

    private func prompt(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Runs a slash command; false means leave.
    private func handleCommand(_ line: String) -> Bool {
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = words.count > 1 ? words[1].trimmingCharacters(in: .whitespaces) : ""
        switch words[0] {
        case "/bye", "/exit", "/quit":
            return false
        case "/clear":
            history.removeAll()
            session.reset()
            print("Cleared the conversation.")
        case "/system":
            if argument.isEmpty {
                print(system.map { "System message: \($0)" } ?? "No system message. Set one with /system TEXT.")
            } else {
                system = argument
                print("Set the system message.")
            }
        case "/set":
            set(argument)
        case "/show":
            let sampling = options.sampling
            print("\(sampling.summary), seed \(sampling.seed.map(String.init) ?? "random"), "
                + "max-tokens \(options.maxTokens), context \(session.contextLength), template \(format.origin), "
                + "\(history.count) messages in history")
        case "/?", "/help":
            print("""
                /set temp|top-k|top-p|min-p|repeat-penalty|seed|max-tokens VALUE   change a setting
                /set verbose | /set quiet   show or hide timings after each answer
                /system [TEXT]   show or set the system message
                /show            the current settings
                /clear           forget the conversation
                /bye             leave (also Ctrl-D)
                \"\"\"               begin and end a message of several lines
                Ctrl-C stops the answer being written.
                """)
        default:
            print("Unknown command '\(words[0])'. Type /? for help.")
        }
        return true
    }

    private func set(_ argument: String) {
        let parts = argument.split(separator: " ").map(String.init)
        if parts == ["verbose"] { verbose = true; return print("Timings on.") }
        if parts == ["quiet"] { verbose = false; return print("Timings off.") }
        guard parts.count == 2 else { return print("Usage: /set NAME VALUE (see /?)") }
        var updated = options
        let (name, value) = (parts[0], parts[1])
        switch name {
        case "temp", "temperature": updated.sampling.temperature = Float(value) ?? .nan
        case "top-k", "top_k": updated.sampling.topK = Int(value) ?? -1
        case "top-p", "top_p": updated.sampling.topP = Float(value) ?? .nan
        case "min-p", "min_p": updated.sampling.minP = Float(value) ?? .nan
        case "repeat-penalty", "repeat_penalty": updated.sampling.repeatPenalty = Float(value) ?? .nan
        case "seed":
            guard let seed = UInt64(value) else { return print("seed must be a whole number ≥ 0, got '\(value)'") }
            updated.sampling.seed = seed
        case "max-tokens", "num_predict":
            guard let count = Int(value), count >= 0 else { return print("max-tokens must be a whole number ≥ 0, got '\(value)'") }
            updated.maxTokens = count
        default:
            return print("Unknown setting '\(name)'. Type /? for help.")
        }
        do {
            try updated.sampling.validate()
        } catch {
            return print("Not changed: \(error.description) (got '\(value)')")
        }
        options = updated
        print("Set \(name) to \(value).")
    }
}

/// Ctrl-C while an answer is being written sets a flag the generation loop checks; at the input
/// prompt it only reminds how to leave.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    private var isGenerating = false
    private var source: DispatchSourceSignal?

    var isSet: Bool { lock.withLock { set } }
    func clear() { lock.withLock { set = false } }
    var generating: Bool {
        get { lock.withLock { isGenerating } }
        set { lock.withLock { isGenerating = newValue } }
    }

    func installHandler() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            let stopAnswer = lock.withLock { () -> Bool in
                if isGenerating { set = true }
                return isGenerating
            }
            if !stopAnswer {
                FileHandle.standardOutput.write(Data("\nUse Ctrl-D or /bye to leave.\n>>> ".utf8))
            }
        }
        source.resume()
        self.source = source
    }
}
