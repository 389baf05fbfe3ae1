import Engine
import Foundation
import Testing

/// A created model's TEMPLATE, SYSTEM and MESSAGEs as the chat format renders them.
@Suite(.serialized) struct ChatCustomizationTests {
    let system = "You write commit messages."
    let preamble: [ChatMessage] = [.user("Fix typo"), .assistant("Fix typo in README")]

    func loaded(_ customization: ChatCustomization) throws -> LoadedModel {
        try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2, customization: customization)
    }

    @Test func theSystemPromptAndMessagesGoBeforeTheConversation() throws {
        let custom = try loaded(ChatCustomization(system: system, messages: preamble)).chatFormat()
        let plain = try loaded(ChatCustomization()).chatFormat()
        let asked: [ChatMessage] = [.user("Add a test")]
        #expect(try custom.render(asked, addGenerationPrompt: true)
            == plain.render([.system(system)] + preamble + asked, addGenerationPrompt: true))
        // A conversation with its own system prompt keeps it; the messages still come first.
        let own: [ChatMessage] = [.system("Be terse."), .user("Add a test")]
        #expect(try custom.render(own, addGenerationPrompt: true)
            == plain.render([.system("Be terse.")] + preamble + [.user("Add a test")], addGenerationPrompt: true))
    }

    @Test func aJinjaTemplateReplacesTheFilesTemplate() throws {
        let template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
        let custom = ChatCustomization(template: template, system: system)
        try custom.validate()
        let format = try loaded(custom).chatFormat()
        #expect(format.origin == "Modelfile TEMPLATE")
        #expect(try format.render([.user("Hi")], addGenerationPrompt: true) == "[system] \(system)\n[user] Hi\n[assistant]")
    }

    @Test(arguments: [
        "{{ .System }}\n{{ .Prompt }}",
        "{{- range .Messages }}{{ .Content }}{{ end }}",
        "{{ if .System }}<|system|>{{ end }}",
    ])
    func aGoTemplateIsRefusedByName(template: String) {
        #expect {
            try ChatCustomization(template: template).validate()
        } throws: { "\($0)".contains("Go template") }
    }

    @Test func aTemplateThatDoesNotCompileIsRefused() {
        #expect {
            try ChatCustomization(template: "{% for m in messages %}{{ m.content }}").validate()
        } throws: { "\($0)".contains("does not compile") }
    }
}
