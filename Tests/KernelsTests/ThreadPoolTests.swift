import Kernels
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct ThreadPoolTests {
    /// Counts how often each index is visited (atomically, from every thread).
    final class Visits: Sendable {
        let counts: Mutex<[Int]>
        init(_ count: Int) { counts = Mutex([Int](repeating: 0, count: count)) }
        func visit(_ range: Range<Int>) { counts.withLock { for i in range { $0[i] += 1 } } }
        var all: [Int] { counts.withLock { $0 } }
    }

    @Test(arguments: [1, 2, 4])
    func everyIndexRunsExactlyOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        #expect(pool.threadCount == threads)
        for count in [0, 1, 2, 7, 64, 1000, 4099] {
            for grain in [1, 3, 16] {
                let visits = Visits(count)
                let badRanges = Atomic(0)
                pool.parallelFor(count, grain: grain) { range in
                    if range.lowerBound % grain != 0 || range.isEmpty { badRanges.wrappingAdd(1, ordering: .relaxed) }
                    visits.visit(range)
                }
                #expect(visits.all.allSatisfy { $0 == 1 }, "count \(count) grain \(grain)")
                #expect(badRanges.load(ordering: .relaxed) == 0)
            }
        }
    }

    /// Many short operations back to back (the decode pattern): no lost wake-ups, no stale bodies.
    @Test func manyConsecutiveOperations() {
        let pool = ThreadPool(threads: 3)
        let total = Atomic(0)
        for round in 0..<3000 {
            pool.parallelFor(12 + round % 5) { range in total.wrappingAdd(range.count, ordering: .relaxed) }
        }
        let expected = (0..<3000).reduce(0) { $0 + 12 + $1 % 5 }
        #expect(total.load(ordering: .relaxed) == expected)
    }

    /// Operations after the workers have gone to sleep still complete.
    @Test func wakesSleepingWorkers() async throws {
        let pool = ThreadPool(threads: 2)
        let visits = Visits(100)
        pool.parallelFor(100) { visits.visit($0) }
        try await Task.sleep(for: .milliseconds(200))
        pool.parallelFor(100) { visits.visit($0) }
        #expect(visits.all.allSatisfy { $0 == 2 })
    }

    @Test func nestedCallRunsInline() {
        let pool = ThreadPool(threads: 2)
        let visits = Visits(64)
        pool.parallelFor(8) { outer in
            for i in outer {
                pool.parallelFor(8) { inner in visits.visit((i * 8 + inner.lowerBound)..<(i * 8 + inner.upperBound)) }
            }
        }
        #expect(visits.all.allSatisfy { $0 == 1 })
    }

    @Test func concurrentCallersAreSerialised() async {
        let pool = ThreadPool(threads: 2)
        let visits = Visits(400)
        await withTaskGroup(of: Void.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    for _ in 0..<50 {
                        pool.parallelFor(100) { range in visits.visit((caller * 100 + range.lowerBound)..<(caller * 100 + range.upperBound)) }
                    }
                }
            }
        }
        #expect(visits.all.allSatisfy { $0 == 50 })
    }

    /// A worker that keeps running late (as when another program shares its core and the
    /// scheduler takes the core away mid-chunk) makes the next operations run on the calling
    /// thread alone, as one range.
    @Test func lateWorkersHandTheirShareToTheCaller() {
        let pool = ThreadPool(threads: 2)
        let caller = pthread_self()
        let lateChunks = Atomic(0)
        for _ in 0..<3 {
            let before = lateChunks.load(ordering: .relaxed)
            pool.parallelFor(8) { _ in
                if pthread_equal(pthread_self(), caller) != 0 {
                    // Hold the caller until the worker has a chunk of this operation (on a busy
                    // machine the worker may wake after the caller could have done all eight).
                    for _ in 0..<20_000 where lateChunks.load(ordering: .acquiring) == before { usleep(100) }
                } else {
                    lateChunks.wrappingAdd(1, ordering: .releasing)
                    usleep(100_000)
                }
            }
        }
        #expect(lateChunks.load(ordering: .relaxed) >= 3, "the worker took part in every operation")
        let ranges = Mutex<[Range<Int>]>([])
        let offCaller = Atomic(0)
        pool.parallelFor(64) { range in
            ranges.withLock { $0.append(range) }
            if pthread_equal(pthread_self(), caller) == 0 { offCaller.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(ranges.withLock { $0 } == [0..<64])
        #expect(offCaller.load(ordering: .relaxed) == 0)
    }
}
