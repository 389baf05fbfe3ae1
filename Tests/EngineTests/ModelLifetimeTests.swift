import Engine
import Foundation
import Sampling
import Testing

/// A model that is unloaded must give back its memory: its weights' mapping and its caches. The
/// server unloads models all the time (`keep_alive: 0`, idle timeouts, reloads for a larger
/// `num_ctx`), so anything an unload leaves behind grows without bound.
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/maps"), "needs /proc/self/maps (Linux)"))
struct ModelLifetimeTests {
    /// How many of this process's mappings are of `path`.
    static func mappings(of path: String) throws -> Int {
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        return maps.split(separator: "\n").filter { $0.hasSuffix(resolved) || $0.hasSuffix(path) }.count
    }

    /// Loads the model, generates with a scheduler as the server does, shuts it down and lets go.
    static func loadGenerateUnload(_ path: String) throws {
        let loaded = try LoadedModel(path: path, threads: 2)
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 2, contextLength: 256, prefixCacheBytes: 1 << 20))
        let collector = Collector()
        let prompt = loaded.tokenizer.encode("The capital of France is")
        try scheduler.submit(prompt: prompt, options: GenerationOptions(maxTokens: 4, sampling: .greedy)) { collector.handle($0) }
        #expect(collector.wait() != nil)
        scheduler.shutdown()
    }

    /// Waits up to `seconds` for the scheduler thread to finish and the last reference to go.
    static func waitForNoMappings(of path: String, seconds: Double = 20) throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        var count = try mappings(of: path)
        while count > 0, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            count = try mappings(of: path)
        }
        return count
    }

    /// A name of the model's file that no other test uses (a hard link, or a copy), so that
    /// the mappings counted are this test's alone while other suites load the same model.
    static func privatePath(_ name: String) throws -> URL {
        let source = URL(fileURLWithPath: try testModelPath(name))
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("lifetime-\(UUID().uuidString).gguf")
        do {
            try FileManager.default.linkItem(at: source, to: link)
        } catch {
            try FileManager.default.copyItem(at: source, to: link)
        }
        return link
    }

    @Test func unloadingUnmapsTheWeights() throws {
        let link = try Self.privatePath("smollm2:135m")
        defer { try? FileManager.default.removeItem(at: link) }
        for cycle in 1...3 {
            try Self.loadGenerateUnload(link.path)
            #expect(try Self.waitForNoMappings(of: link.path) == 0, "cycle \(cycle): the weights are still mapped after the model was unloaded")
        }
    }
}
