import Foundation
import GGUF
import Testing

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Damaged copies of a real model: every one must be rejected with a GGUFError or (for byte
/// flips that leave the header consistent) parse into a table whose data lies inside the file.
/// A crash fails the whole test run, which is the point.
@Suite("Real model: truncation and corruption")
struct RobustnessTests {
    /// Copies smollm2 into a scratch directory; the tests then damage the copy in place.
    ///
    /// The test home holds symlinks to shared model files, and copying a symlink copies the link,
    /// so the source is resolved first and the copy is checked to be a separate regular file
    /// before anything writes to it.
    private func scratchCopy() throws -> (ScratchDirectory, String, GGUFFile)? {
        guard let located = RealModel.smollm2.locate() else { return nil }
        let source = URL(fileURLWithPath: located).resolvingSymlinksInPath().path
        let original = try GGUFFile(path: source)
        let scratch = try ScratchDirectory()
        let path = scratch.path("copy.gguf")
        try FileManager.default.copyItem(atPath: source, toPath: path)

        let manager = FileManager.default
        let copied = try manager.attributesOfItem(atPath: path)
        let shared = try manager.attributesOfItem(atPath: source)
        try #require(copied[.type] as? FileAttributeType == .typeRegular, "the copy must be a regular file")
        try #require(
            (copied[.systemFileNumber] as? NSNumber) != (shared[.systemFileNumber] as? NSNumber),
            "the copy must not be the shared model file")
        return (scratch, path, original)
    }

    /// The truncation points: every byte of the fixed header and first keys, points spread over
    /// the metadata and the tensor table, and points across the data section up to one byte short.
    private func truncationPoints(for file: GGUFFile) -> [Int] {
        var points = Set(0..<96)
        let header = file.dataOffset
        for step in 0..<40 {
            points.insert(96 + (header - 96) * step / 40)
        }
        // The tensor table sits just before the data section; each info is at least 32 bytes.
        let tableStart = header - file.tensors.count * 60
        for step in 0..<24 {
            points.insert(tableStart + (header - tableStart) * step / 24)
        }
        let size = file.fileSize
        points.formUnion([header - 1, header, header + 1, size - 1, size - 2, size - 33])
        for step in 1...4 {
            points.insert(header + (size - header) * step / 5)
        }
        var generator = SeededGenerator(state: 2024)
        while points.count < 200 {
            points.insert(Int.random(in: 96..<size, using: &generator))
        }
        return points.sorted(by: >)
    }

    @Test("200 truncations of smollm2 are all rejected, with the bounds check in the data section")
    func truncations() throws {
        guard let (scratch, path, original) = try scratchCopy() else { return }
        let points = truncationPoints(for: original)
        #expect(points.count == 200)
        #expect(points.filter { $0 >= original.dataOffset }.count > 30)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }

        var kinds = [GGUFError.Kind: Int]()
        // Largest first, so one copy serves every point.
        for point in points {
            try handle.truncate(atOffset: UInt64(point))
            do {
                let file = try GGUFFile(path: path)
                Issue.record("truncated at \(point) of \(original.fileSize) bytes but opened (\(file.tensors.count) tensors)")
            } catch {
                kinds[error.kind, default: 0] += 1
                #expect(error.kind != .io, "at \(point): \(error)")
                #expect(error.path == path)
                if point >= original.dataOffset {
                    #expect(error.kind == .tensorDataOutOfBounds, "at \(point): \(error)")
                    #expect(error.tensor != nil, "at \(point): \(error)")
                }
                if point < GGUFLimits.headerSize {
                    #expect(error.kind == .truncated, "at \(point): \(error)")
                }
                if let offset = error.offset {
                    #expect(offset <= point, "at \(point): error offset beyond the file: \(error)")
                }
            }
        }
        print("truncations by error kind: \(kinds.sorted { $0.key.rawValue < $1.key.rawValue })")
        withExtendedLifetime(scratch) {}
    }

    @Test("random byte flips in smollm2's header: no crash, an error or a consistent table")
    func byteFlips() throws {
        guard let (scratch, path, original) = try scratchCopy() else { return }
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let header = original.dataOffset
        let tableStart = header - original.tensors.count * 60
        var generator = SeededGenerator(state: 7)
        var rejected = [GGUFError.Kind: Int]()
        var accepted = 0

        for flip in 0..<240 {
            // A third each: the fixed header and first keys, the tensor table, anywhere in the header.
            let position = switch flip % 3 {
            case 0: Int.random(in: 0..<4096, using: &generator)
            case 1: Int.random(in: tableStart..<header, using: &generator)
            default: Int.random(in: 0..<header, using: &generator)
            }
            let mask = UInt8.random(in: 1...255, using: &generator)
            try handle.seek(toOffset: UInt64(position))
            let originalByte = try #require(try handle.read(upToCount: 1)?.first)
            try handle.seek(toOffset: UInt64(position))
            try handle.write(contentsOf: [originalByte ^ mask])

            do {
                let file = try GGUFFile(path: path)
                accepted += 1
                // Whatever parsed must be self-consistent: every tensor's bytes inside the file.
                for tensor in file.tensors {
                    let data = file.data(for: tensor)
                    #expect(data.count == tensor.byteCount && tensor.fileOffset + tensor.byteCount <= file.fileSize)
                    _ = data.first.map { $0 ^ data[data.count - 1] }
                }
                _ = GGUFSummary(file)
            } catch {
                rejected[error.kind, default: 0] += 1
                #expect(!error.description.isEmpty && !error.description.contains("\n"))
            }

            try handle.seek(toOffset: UInt64(position))
            try handle.write(contentsOf: [originalByte])
        }
        print("byte flips: \(accepted) parsed, rejected by kind: \(rejected.sorted { $0.key.rawValue < $1.key.rawValue })")
        #expect(accepted + rejected.values.reduce(0, +) == 240)
        #expect(!rejected.isEmpty)
        // The restored copy is the original again.
        #expect(try GGUFFile(path: path).tensors == original.tensors)
        withExtendedLifetime(scratch) {}
    }
}
