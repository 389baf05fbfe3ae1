import Foundation
import Testing

/// Locates a catalog model in the test store that `scripts/test` fills with `hearth pull`.
func testModelPath(_ name: String) throws -> String {
    var candidates: [String] = []
    if let home = ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"] {
        candidates.append("\(home)/models/\(name).gguf")
    }
    candidates.append(NSHomeDirectory() + "/.hearth/models/\(name).gguf")
    for path in candidates where FileManager.default.fileExists(atPath: path) { return path }
    Issue.record("model \(name) not found (looked in \(candidates)); run scripts/test, which pulls it")
    throw CancellationError()
}
