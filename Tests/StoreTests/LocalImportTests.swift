import Foundation
import Store
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Local imports, list, rm, resolve and the sha256 cache")
struct LocalImportTests {
    @Test func importWithRightChecksumInstallsAtomically() async throws {
        let test = try TestStore()
        let source = try test.directory.file("tiny.gguf", Fixture.small)
        let log = ProgressLog(watching: test.model("tiny"))
        let model = try await test.store.pull(source.path, sha256: Fixture.smallSHA256.uppercased(), progress: log.record)
        #expect(model.name == "tiny")
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(model.size == Int64(Fixture.small.count))
        #expect(model.path == test.model("tiny").path)
        #expect(model.source == "file:\(source.resolvingSymlinksInPath().path)")
        #expect(try Data(contentsOf: test.model("tiny")) == Fixture.small)
        #expect(!log.finalPathAppearedEarly)
        #expect(log.all.last?.bytesDone == Int64(Fixture.small.count))
        #expect(try test.leftovers() == [])
        #expect(try test.store.list() == [model])
    }

    @Test func importWithWrongChecksumLeavesNothing() async throws {
        let test = try TestStore()
        let source = try test.directory.file("tiny.gguf", Fixture.small)
        do {
            _ = try await test.store.pull(source.path, name: "wrong", sha256: Fixture.otherSHA256) { _ in }
            Issue.record("a wrong sha256 must fail")
        } catch let error as StoreError {
            #expect(error.code == .checksumMismatch)
            #expect(error.description.contains("expected \(Fixture.otherSHA256)"))
            #expect(error.description.contains("got \(Fixture.smallSHA256)"))
        }
        #expect(!test.exists(test.model("wrong")))
        #expect(!test.exists(test.manifest("wrong")))
        #expect(try test.leftovers() == [])
        #expect(try test.store.list().isEmpty)
    }

    @Test func importWithoutChecksumRecordsTheComputedOne() async throws {
        let test = try TestStore()
        let source = try test.directory.file("some file.bin", Fixture.other)
        let model = try await test.store.pull(source.path, name: "other:v1") { _ in }
        #expect(model.sha256 == Fixture.otherSHA256)
        let manifest = try String(contentsOf: test.manifest("other:v1"), encoding: .utf8)
        #expect(manifest.contains(Fixture.otherSHA256))
    }

    @Test func refusesFilesThatAreNotGGUF() async throws {
        let test = try TestStore()
        let source = try test.directory.file("page.gguf", Data("<!DOCTYPE html> not a model".utf8))
        await #expect(throws: StoreError.self) { _ = try await test.store.pull(source.path) { _ in } }
        #expect(!test.exists(test.model("page")))
        #expect(try test.leftovers() == [])
    }

    @Test func refusesNamesAndSourcesThatMakeNoSense() async throws {
        let test = try TestStore()
        let source = try test.directory.file("tiny.gguf", Fixture.small)
        for name in ["../escape", "/abs", "a/b", ""] {
            do {
                _ = try await test.store.pull(source.path, name: name) { _ in }
                Issue.record("name '\(name)' must be refused")
            } catch let error as StoreError {
                #expect(error.code == .invalidName)
            }
        }
        let oddFile = try test.directory.file("bad name!.gguf", Fixture.small)
        await #expect(throws: StoreError.self) { _ = try await test.store.pull(oddFile.path) { _ in } }
        await #expect(throws: StoreError.self) { _ = try await test.store.pull(source.path, sha256: "abc") { _ in } }
        await #expect(throws: StoreError.self) { _ = try await test.store.pull("/no/such/file.gguf") { _ in } }
        await #expect(throws: StoreError.self) { _ = try await test.store.pull("no-such-model") { _ in } }
        #expect(!FileManager.default.fileExists(atPath: test.root.deletingLastPathComponent().appendingPathComponent("escape.gguf").path))
        #expect(try test.store.list().isEmpty)
    }

    @Test func listAndRemoveRoundTrip() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        let other = try test.directory.file("other.gguf", Fixture.other)
        _ = try await test.store.pull(small.path, name: "zeta:1") { _ in }
        _ = try await test.store.pull(other.path, name: "alpha") { _ in }
        #expect(try test.store.list().map(\.name) == ["alpha", "zeta:1"])
        #expect(try test.store.list().map(\.sha256) == [Fixture.otherSHA256, Fixture.smallSHA256])

        try test.store.remove("zeta:1")
        #expect(!test.exists(test.model("zeta:1")))
        #expect(!test.exists(test.manifest("zeta:1")))
        #expect(try test.store.list().map(\.name) == ["alpha"])
        #expect(throws: StoreError.self) { try test.store.remove("zeta:1") }
        #expect(throws: StoreError.self) { try test.store.remove("../alpha") }
        try test.store.remove("alpha")
        #expect(try test.store.list().isEmpty)
    }

    @Test func copyLinksTheSameFileUnderANewName() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        _ = try await test.store.pull(small.path, name: "base:1") { _ in }
        try test.store.copy("base:1", to: "mine")
        #expect(try test.store.list().map(\.name) == ["base:1", "mine"])
        #expect(try test.store.installedModel(named: "mine")?.sha256 == Fixture.smallSHA256)
        let inode = { (name: String) throws -> UInt64 in
            (try FileManager.default.attributesOfItem(atPath: test.model(name).path)[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        }
        #expect(try inode("mine") == inode("base:1"), "a copy shares the weights' file")
        #expect { try test.store.copy("base:1", to: "mine") } throws: { ($0 as? StoreError)?.code == .alreadyExists }
        #expect { try test.store.copy("nothing", to: "other") } throws: { ($0 as? StoreError)?.code == .notInstalled }
        #expect { try test.store.copy("base:1", to: "../escape") } throws: { ($0 as? StoreError)?.code == .invalidName }
        try test.store.remove("base:1")
        #expect(try test.store.list().map(\.name) == ["mine"])
        #expect(try test.store.installedModel(named: "mine")?.size == Int64(Fixture.small.count))
    }

    @Test func copiesAndDeletesRacingOnOneNameNeverFailWithAnIOError() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        _ = try await test.store.pull(small.path, name: "base:1") { _ in }
        for round in 0..<20 {
            let outcomes = Mutex<[String]>([])
            let store = test.store
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                let outcome: String
                do { try store.copy("base:1", to: "race\(round)"); outcome = "copied" }
                catch let error as StoreError where error.code == .alreadyExists { outcome = "exists" }
                catch { outcome = "failed: \(error)" }
                outcomes.withLock { $0.append(outcome) }
            }
            let all = outcomes.withLock { $0 }
            #expect(all.filter { $0 == "copied" }.count == 1, "round \(round): \(all)")
            #expect(all.allSatisfy { $0 == "copied" || $0 == "exists" }, "round \(round): \(all)")
            let deletions = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                let outcome: String
                do { try store.remove("race\(round)"); outcome = "removed" }
                catch let error as StoreError where error.code == .notInstalled { outcome = "absent" }
                catch { outcome = "failed: \(error)" }
                deletions.withLock { $0.append(outcome) }
            }
            let removals = deletions.withLock { $0 }
            #expect(removals.allSatisfy { $0 == "removed" || $0 == "absent" } && removals.contains("removed"), "round \(round): \(removals)")
            #expect(try store.installedModel(named: "race\(round)") == nil)
        }
    }

    @Test func startUpRemovesWhatKilledWritesLeftAndNothingElse() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        _ = try await test.store.pull(small.path, name: "base:1") { _ in }
        let manifests = test.root.appendingPathComponent("manifests")
        // A writer that is gone (no process has this pid), one still running (this one), and a
        // file that only looks similar.
        let abandoned = manifests.appendingPathComponent(".copy.json.999999999.12345.tmp")
        let live = manifests.appendingPathComponent(".other.json.\(getpid()).777.tmp")
        let unrelated = manifests.appendingPathComponent(".notes.tmp")
        let oldLink = test.tmp.appendingPathComponent(".create-0A.gguf")
        let newLink = test.tmp.appendingPathComponent(".create-0B.gguf")
        for url in [abandoned, live, unrelated] { try Data("{}".utf8).write(to: url) }
        // Hard links share their file's times: the recent one is a file of its own.
        #expect(link(test.model("base:1").path, oldLink.path) == 0)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: oldLink.path)
        try Fixture.small.write(to: newLink)
        test.store.removeStaleTemporaries()
        #expect(!test.exists(abandoned) && !test.exists(oldLink))
        #expect(test.exists(live) && test.exists(unrelated) && test.exists(newLink))
        #expect(try test.store.list().map(\.name) == ["base:1"])
    }

    @Test func aModelFileWithoutManifestIsListedWithItsRealHash() async throws {
        let test = try TestStore()
        try Fixture.small.write(to: test.model("by-hand"))
        let listed = try test.store.list()
        #expect(listed.map(\.name) == ["by-hand"])
        #expect(listed.first?.sha256 == Fixture.smallSHA256)
        #expect(listed.first?.source.contains("unknown") == true)
        // The hash came from the cache the second time.
        _ = try test.store.list()
        #expect(test.store.fullHashCount == 1)
    }

    @Test func reinstallReplacesTheModelAndItsManifest() async throws {
        let test = try TestStore()
        let small = try test.directory.file("small.gguf", Fixture.small)
        let other = try test.directory.file("other.gguf", Fixture.other)
        _ = try await test.store.pull(small.path, name: "m") { _ in }
        let second = try await test.store.pull(other.path, name: "m") { _ in }
        #expect(second.sha256 == Fixture.otherSHA256)
        #expect(try test.store.list().map(\.sha256) == [Fixture.otherSHA256])
        // Same name with the sha256 it already has: nothing to do.
        let again = try await test.store.pull(other.path, name: "m", sha256: Fixture.otherSHA256) { _ in }
        #expect(again == second)
    }

    @Test func resolvesNamesCatalogEntriesAndPaths() async throws {
        let test = try TestStore()
        let source = try test.directory.file("tiny.gguf", Fixture.small)
        _ = try await test.store.pull(source.path) { _ in }

        let installed = try test.store.resolve("tiny")
        #expect(installed.kind == .installed)
        #expect(installed.isInstalled)
        #expect(installed.name == "tiny")
        #expect(installed.url.path == test.model("tiny").path)

        let catalog = try test.store.resolve("smollm2:135m")
        #expect(catalog.kind == .catalogNotInstalled)
        #expect(!catalog.isInstalled)
        #expect(catalog.catalogEntry?.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")

        let path = try test.store.resolve(source.path)
        #expect(path.kind == .file)
        #expect(path.name == nil)

        do {
            _ = try test.store.resolve("foo")
            Issue.record("unknown names must fail")
        } catch let error as StoreError {
            #expect(error.code == .unknownModel)
            #expect(error.description.contains("model 'foo' is not installed and not in the catalog (known: "))
            #expect(error.description.contains("smollm2:135m"))
            #expect(error.description.contains("tiny"))
        }
        #expect(throws: StoreError.self) { _ = try test.store.resolve("/no/such/model.gguf") }
        let text = try test.directory.file("notes.txt", Data("hello world".utf8))
        #expect(throws: StoreError.self) { _ = try test.store.resolve(text.path) }
    }

    @Test func sha256OfAPathIsHashedOnceWhileUnchanged() throws {
        let test = try TestStore()
        let file = try test.directory.file("big.gguf", Fixture.small)
        #expect(try test.store.sha256(ofFileAt: file) == Fixture.smallSHA256)
        #expect(try test.store.sha256(ofFileAt: file) == Fixture.smallSHA256)
        #expect(test.store.fullHashCount == 1)

        // Another process (a new store value on the same root) reads the persisted cache.
        let reopened = try ModelStore(root: test.root)
        #expect(try reopened.sha256(ofFileAt: file) == Fixture.smallSHA256)
        #expect(reopened.fullHashCount == 0)

        // A changed file is hashed again.
        try Fixture.other.write(to: file)
        #expect(try test.store.sha256(ofFileAt: file) == Fixture.otherSHA256)
        #expect(test.store.fullHashCount == 2)
        #expect(throws: StoreError.self) { _ = try test.store.sha256(ofFileAt: test.directory.url.appendingPathComponent("nope")) }
    }

    @Test func aKilledPullsLeftoversAreCleanedByTheNextPull() async throws {
        let test = try TestStore()
        // What `kill -9` during a pip pull of "other" and an import of "tiny" leaves behind.
        try Data("half a model".utf8).write(to: test.tmp.appendingPathComponent("other.partial"))
        try FileManager.default.createDirectory(at: test.tmp.appendingPathComponent("other.wheels"), withIntermediateDirectories: true)
        try Data("half".utf8).write(to: test.tmp.appendingPathComponent("other.wheels/x.whl"))
        try Data("GGUF garbage".utf8).write(to: test.tmp.appendingPathComponent("tiny.partial"))
        // A resumable https partial of a third model is kept for its own next pull.
        try Data("GGUF".utf8).write(to: test.tmp.appendingPathComponent("web.partial"))
        try Data(#"{"url":"https://example.org/web.gguf"}"#.utf8).write(to: test.tmp.appendingPathComponent("web.partial.json"))
        #expect(!test.exists(test.model("tiny")))

        let source = try test.directory.file("tiny.gguf", Fixture.small)
        let model = try await test.store.pull(source.path, sha256: Fixture.smallSHA256) { _ in }
        #expect(model.sha256 == Fixture.smallSHA256)
        #expect(try test.leftovers() == ["web.partial", "web.partial.json"])
    }

    @Test func aSecondPullOfTheSameNameIsRefusedWhileOneRuns() async throws {
        let test = try TestStore()
        let source = try test.directory.file("tiny.gguf", Fixture.small)
        // Hold the per-name lock the way a running pull does.
        let lockFile = test.tmp.appendingPathComponent("tiny.lock")
        let descriptor = open(lockFile.path, O_RDWR | O_CREAT, 0o644)
        #expect(descriptor >= 0)
        #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        do {
            _ = try await test.store.pull(source.path) { _ in }
            Issue.record("a concurrent pull of the same name must be refused")
        } catch let error as StoreError {
            #expect(error.code == .pullInProgress)
        }
        close(descriptor)
        _ = try await test.store.pull(source.path) { _ in }
    }
}
