import Foundation
import Testing
import Store

@Suite struct ModelfileTests {
    @Test func parsesEveryInstructionAndValueForm() throws {
        let text = """
            # a comment, then instructions in any case
            FROM qwen2.5-coder:0.5b
            parameter temperature 0
            PARAMETER num_ctx 2048
            PARAMETER stop "<|im_end|>"
            PARAMETER stop <|endoftext|>
            PARAMETER use_mmap true
            SYSTEM \"\"\"You write commit messages.
            One line, imperative.\"\"\"
            TEMPLATE \"\"\"{% for m in messages %}{{ m.content }}{% endfor %}\"\"\"
            MESSAGE user Fix the typo
            MESSAGE assistant "Fix typo in README"
            LICENSE MIT
            draft qwen2.5-coder:0.5b
            """
        let modelfile = try Modelfile.parse(text)
        #expect(modelfile.from == "qwen2.5-coder:0.5b")
        let custom = modelfile.customization
        #expect(custom.base == "qwen2.5-coder:0.5b")
        #expect(custom.system == "You write commit messages.\nOne line, imperative.")
        #expect(custom.template == "{% for m in messages %}{{ m.content }}{% endfor %}")
        #expect(custom.parameter("temperature") == .number(0))
        #expect(custom.parameter("num_ctx") == .integer(2048))
        #expect(custom.parameter("stop") == .strings(["<|im_end|>", "<|endoftext|>"]))
        #expect(custom.parameter("use_mmap") == .boolean(true))
        #expect(custom.parameters.map(\.name) == ["num_ctx", "stop", "temperature", "use_mmap"], "kept sorted by name")
        #expect(custom.messages == [ModelMessage(role: "user", content: "Fix the typo"),
                                    ModelMessage(role: "assistant", content: "Fix typo in README")])
        #expect(custom.license == ["MIT"])
        #expect(custom.draft == "qwen2.5-coder:0.5b")
        #expect(modelfile.adapters.isEmpty)
    }

    @Test func theGeneratedModelfileParsesBackToTheSameModel() throws {
        var custom = ModelCustomization(base: "smollm2:135m", system: "Line one\nwith \"quotes\" inside", template: "{{ messages }}")
        try custom.setParameter("temperature", text: "0.25")
        try custom.setParameter("stop", text: "END")
        try custom.setParameter("stop", text: "two words")
        try custom.setParameter("seed", text: "7")
        custom.messages = [ModelMessage(role: "user", content: "hi"), ModelMessage(role: "assistant", content: "")]
        custom.license = ["Apache-2.0"]
        custom.draft = "none"
        let again = try Modelfile.parse(custom.modelfile(from: "smollm2:135m"))
        #expect(again.customization == custom)
    }

    @Test(arguments: [
        ("PARAMETER temperature 0", "no FROM"),
        ("FROM a\nFROM b", "second FROM"),
        ("FROM a\nPARAMETER temperature hot", "expected a number"),
        ("FROM a\nPARAMETER num_ctx 2.5", "whole number"),
        ("FROM a\nPARAMETER flux 1", "unknown parameter 'flux'"),
        ("FROM a\nPARAMETER temperature", "needs a name and a value"),
        ("FROM a\nSYSTEM \"\"\"never closed", "never closed"),
        ("FROM a\nSYSTEM \"half", "no closing quote"),
        ("FROM a\nMESSAGE robot hello", "role"),
        ("FROM a\nDRAFT b\nDRAFT c", "second DRAFT"),
        ("FROM a\nDRAFT", "DRAFT needs"),
        ("FROM a\nQUANTIZE q4_0", "unknown instruction 'QUANTIZE'"),
        ("FROM a\nSYSTEM one\nSYSTEM two", "second SYSTEM"),
    ])
    func badModelfilesNameTheirProblem(text: String, expected: String) {
        #expect {
            _ = try Modelfile.parse(text)
        } throws: { error in
            guard let error = error as? StoreError, error.code == .invalidModelfile else { return false }
            return error.message.contains(expected)
        }
    }

    @Test func adaptersAreReadForTheCallerToJudge() throws {
        let modelfile = try Modelfile.parse("FROM base\nADAPTER ./lora.gguf")
        #expect(modelfile.adapters == ["./lora.gguf"])
    }

    @Test func createLinksTheWeightsAndKeepsTheCustomization() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        _ = try await test.store.pull(small.path, name: "base:1") { _ in }
        var custom = ModelCustomization(base: "base:1", system: "Be brief.")
        try custom.setParameter("temperature", text: "0")
        let created = try test.store.create("brief", from: "base:1", customization: custom)
        #expect(created.sha256 == Fixture.smallSHA256)
        #expect(try test.store.installedModel(named: "brief")?.customization == custom)
        #expect(try test.store.installedModel(named: "base:1")?.customization == nil)
        let inode = { (name: String) throws -> UInt64 in
            (try FileManager.default.attributesOfItem(atPath: test.model(name).path)[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        }
        #expect(try inode("brief") == inode("base:1"), "a created model shares the weights' file")

        // Created again: replaced. Created from itself: its own file, a new customization.
        custom.system = "Be very brief."
        try test.store.create("brief", from: "base:1", customization: custom)
        #expect(try test.store.installedModel(named: "brief")?.customization?.system == "Be very brief.")
        custom.system = "Terse."
        try test.store.create("brief", from: "brief", customization: custom)
        #expect(try test.store.installedModel(named: "brief")?.customization?.system == "Terse.")
        #expect(try test.store.list().map(\.name) == ["base:1", "brief"])

        // A copy keeps the customization; removing the base leaves both.
        try test.store.copy("brief", to: "brief2")
        #expect(try test.store.installedModel(named: "brief2")?.customization?.system == "Terse.")
        try test.store.remove("base:1")
        #expect(try test.store.installedModel(named: "brief")?.size == Int64(Fixture.small.count))
        #expect { try test.store.create("x", from: "nothing", customization: custom) } throws: { ($0 as? StoreError)?.code == .notInstalled }
        #expect { try test.store.create("../x", from: "brief", customization: custom) } throws: { ($0 as? StoreError)?.code == .invalidName }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: test.store.root.appendingPathComponent("tmp").path)
        #expect(leftovers.filter { $0.hasPrefix(".create-") }.isEmpty, "nothing staged is left behind")
    }
}
