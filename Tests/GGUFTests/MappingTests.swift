import Foundation
import GGUF
import Testing

@Suite("Memory mapping")
struct MappingTests {
    private func fixture(in scratch: ScratchDirectory) throws -> String {
        var writer = GGUFWriter()
        writer.add(key: "general.architecture", .string("llama"))
        writer.add(tensor: "w", type: .f32, dimensions: [1024], data: [UInt8](repeating: 7, count: 4096))
        let path = scratch.path("mapped-\(UUID().uuidString).gguf")
        try writer.write(to: path)
        return path
    }

    @Test("an empty file is rejected as truncated, not an mmap failure")
    func emptyFile() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("empty.gguf")
        try Data().write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: path) }
        #expect(error?.kind == .truncated)
    }

    @Test("tensor data comes straight from the mapping")
    func dataPointsIntoMapping() throws {
        let scratch = try ScratchDirectory()
        let file = try GGUFFile(path: try fixture(in: scratch))
        let tensor = try #require(file.tensor(named: "w"))
        let data = file.data(for: tensor)
        #expect(data.baseAddress == file.bytes.baseAddress.map { $0 + tensor.fileOffset })
        #expect(data.allSatisfy { $0 == 7 })
    }

    #if os(Linux)
    /// A /proc file read to its end (they report size 0, which whole-file readers trust).
    private func procFile(_ path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var data = Data()
        while let chunk = try handle.read(upToCount: 65_536), !chunk.isEmpty {
            data.append(chunk)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Lines of /proc/self/maps that map `path`.
    private func mappings(of path: String) throws -> Int {
        let maps = try procFile("/proc/self/maps")
        return maps.split(separator: "\n").filter { $0.hasSuffix(path) }.count
    }

    /// Open descriptors of this process that refer to `path`.
    private func openDescriptors(of path: String) throws -> Int {
        let manager = FileManager.default
        return try manager.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? manager.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == path
        }.count
    }

    @Test("the file is mapped while open, unmapped on deinit, and no descriptor is kept")
    func unmappedOnDeinit() throws {
        let scratch = try ScratchDirectory()
        let path = URL(fileURLWithPath: try fixture(in: scratch)).resolvingSymlinksInPath().path
        var file: GGUFFile? = try GGUFFile(path: path)
        #expect(try mappings(of: path) == 1)
        #expect(try openDescriptors(of: path) == 0)
        #expect(file?.tensors.count == 1)
        file = nil
        #expect(try mappings(of: path) == 0)
    }
    #endif
}
