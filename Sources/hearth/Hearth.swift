import ArgumentParser

/// The `hearth` command: a local AI runtime for GGUF models.
///
/// Every subcommand that takes a MODEL accepts a catalog name (`smollm2:135m`), a name already in
/// the store, or a path to a `.gguf` file. `HEARTH_HOME` sets the store's root (default `~/.hearth`).
@main
struct Hearth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hearth",
        abstract: "Run open-weight language models on this machine.",
        discussion: """
            MODEL is a catalog name (e.g. smollm2:135m), a name in the store, or a path to a .gguf file.
            The store lives in $HEARTH_HOME (default ~/.hearth).
            """,
        version: "0.1.0",
        subcommands: [
            RunCommand.self,
            ServeCommand.self,
            PullCommand.self,
            CreateCommand.self,
            UsageCommand.self,
            ListCommand.self,
            ShowCommand.self,
            RemoveCommand.self,
            TokenizeCommand.self,
            PerplexityCommand.self,
            BenchCommand.self,
            EvalCommand.self,
            FitCommand.self,
        ]
    )
}
