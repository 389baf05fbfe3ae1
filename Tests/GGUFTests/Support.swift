import Foundation
import GGUF
import Testing

/// A scratch directory removed when the value is released.
final class ScratchDirectory: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("gguf-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Writes `bytes` to a fresh file and opens it.
func openGGUF(_ bytes: [UInt8]) throws -> GGUFFile {
    let scratch = try ScratchDirectory()
    let path = scratch.path("fixture.gguf")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return try withExtendedLifetime(scratch) { try GGUFFile(path: path) }
}

/// Opens `bytes` expecting a ``GGUFError`` of `kind`; returns it for further checks.
@discardableResult
func expectGGUFError(
    _ kind: GGUFError.Kind, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
) -> GGUFError? {
    do {
        let file = try openGGUF(bytes)
        Issue.record("expected \(kind) error, but the file opened (\(file.tensors.count) tensors)",
                     sourceLocation: sourceLocation)
        return nil
    } catch let error as GGUFError {
        #expect(error.kind == kind, "got: \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), "message must be one line", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected GGUFError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Little-endian encodings, for patching and raw payloads.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// Finds `needle` in `haystack` (first occurrence).
func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
        return start
    }
    return nil
}

/// Bytes for one well-formed tensor of `type` with `rows` rows of one block each.
func tensorData(_ type: GGUFTensorType, rows: Int = 1, fill: UInt8 = 0) -> [UInt8] {
    [UInt8](repeating: fill, count: type.bytesPerBlock * rows)
}

// MARK: - Real models

/// The catalog models the end-to-end tests use, with their expected facts.
enum RealModel: String, CaseIterable, Sendable {
    case smollm2 = "smollm2:135m"
    case gemma3 = "gemma3:270m"
    case qwen05 = "qwen2.5-coder:0.5b"
    case qwen15 = "qwen2.5-coder:1.5b"

    /// `$HEARTH_TEST_HOME/models/NAME.gguf`, else `~/.hearth/models/NAME.gguf`.
    var candidatePaths: [String] {
        var paths = [String]()
        if let home = ProcessInfo.processInfo.environment["HEARTH_TEST_HOME"], !home.isEmpty {
            paths.append("\(home)/models/\(rawValue).gguf")
        }
        paths.append(FileManager.default.homeDirectoryForCurrentUser.path + "/.hearth/models/\(rawValue).gguf")
        return paths
    }

    /// The model's path; records a failure (never a silent pass) when it is missing.
    func locate(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let found = candidatePaths.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            return found
        }
        let message = "model \(rawValue) not found (looked in \(candidatePaths.joined(separator: ", "))); "
            + "run scripts/test, which installs the test models and sets HEARTH_TEST_HOME"
        Issue.record("\(message)", sourceLocation: sourceLocation)
        return nil
    }
}
