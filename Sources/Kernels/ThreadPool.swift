// A persistent fork-join pool for the kernels: worker threads are created once and wait between
// operations, first spinning briefly on an atomic (so back-to-back operations of one forward pass
// start within nanoseconds), then sleeping on a condition variable (so an idle model costs nothing).
//
// One operation is split into at most a few chunks per thread; threads (the caller included)
// claim chunks with a compare-and-swap on a single 64-bit ticket that packs the operation's
// generation, its chunk count and the next chunk index. Because a claim names its generation,
// a worker that wakes late can never run a chunk of a newer operation with an older body.

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of threads that run `parallelFor` bodies; the calling thread takes part.
///
/// ```swift
/// let pool = ThreadPool(threads: 4)
/// pool.parallelFor(rows, grain: 8) { range in
///     for row in range { output[row] = dot(row) }
/// }
/// ```
///
/// `parallelFor` returns only when every chunk has run, so the body may capture pointers to the
/// caller's buffers; chunks run concurrently, so bodies must write disjoint memory. Calls from
/// several threads are serialised; a nested call from inside a body runs serially on its thread.
public final class ThreadPool: @unchecked Sendable {
    /// Threads that run a `parallelFor`, counting the caller.
    public let threadCount: Int

    private let shared: PoolState
    private var workers: [pthread_t] = []
    private let submitLock = PthreadMutex()
    /// Operations in a row whose caller waited far longer for the workers than it worked itself
    /// (a worker descheduled while holding a chunk: another program shares its core). Under the
    /// submit lock.
    private var lateOperations = 0
    /// Operations still to run on the calling thread alone after workers were late three times in
    /// a row. Under the submit lock.
    private var serialOperationsLeft = 0

    /// Threads to use by default: the machine's active processors.
    public static var defaultThreadCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Creates a pool that runs bodies on `threads` threads in total (the caller plus
    /// `threads - 1` workers). `threads` below 1 is treated as 1.
    public init(threads: Int) {
        threadCount = max(1, threads)
        shared = PoolState()
        for _ in 1..<threadCount {
            let context = Unmanaged.passRetained(shared).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t?
            let status = pthread_create(&thread, nil, { context in
                Unmanaged<PoolState>.fromOpaque(context).takeRetainedValue().workerLoop()
                return nil
            }, context)
            if status == 0, let thread { workers.append(thread) } else { Unmanaged<PoolState>.fromOpaque(context).release() }
            #else
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { context in
                Unmanaged<PoolState>.fromOpaque(context!).takeRetainedValue().workerLoop()
                return nil
            }, context)
            if status == 0 { workers.append(thread) } else { Unmanaged<PoolState>.fromOpaque(context).release() }
            #endif
        }
    }

    deinit {
        shared.shutDown()
        for thread in workers { pthread_join(thread, nil) }
    }

    /// Runs `body` over `0..<count` split into contiguous ranges, in parallel, and returns when all
    /// ranges are done. Range boundaries are multiples of `grain` (the last range may be shorter),
    /// so a body can rely on whole tiles.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        let units = (count + grain - 1) / grain
        // A few chunks per thread lets a thread that was descheduled (other processes share the
        // cores) hand its share to the others.
        let chunkTarget = min(units, threadCount == 1 ? 1 : threadCount * 4, Int(PoolState.maxChunks))
        if chunkTarget <= 1 || PoolState.isInsideBody {
            body(0..<count)
            return
        }
        let chunkLength = ((units + chunkTarget - 1) / chunkTarget) * grain
        let chunks = (count + chunkLength - 1) / chunkLength
        submitLock.lock()
        defer { submitLock.unlock() }
        // While another program keeps a worker's core busy, the scheduler takes that core from
        // the worker for milliseconds at a time, often while it holds a chunk that the caller
        // then waits for: a few hundred operations run on the caller alone (which the scheduler
        // can move to the free core), then the workers are tried again.
        if serialOperationsLeft > 0 {
            serialOperationsLeft -= 1
            body(0..<count)
            return
        }
        let (worked, waited) = withoutActuallyEscaping(body) { escapable in
            shared.run(chunks: chunks) { chunk in
                let start = chunk * chunkLength
                escapable(start..<min(count, start + chunkLength))
            }
        }
        if waited > 2 * worked + 100_000 {
            lateOperations += 1
            if lateOperations == 3 {
                lateOperations = 0
                serialOperationsLeft = 512
            }
        } else {
            lateOperations = 0
        }
    }
}

/// State shared by the pool's threads. Its lifetime is held by the pool and by each worker.
private final class PoolState: @unchecked Sendable {
    static let maxChunks: UInt64 = 0xFFFF

    /// generation (32 bits) | chunk count (16 bits) | next chunk index (16 bits).
    private let ticket = Atomic<UInt64>(0)
    /// Chunks of the current generation that have finished.
    private let completed = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// The current operation's chunk runner. Written only while no chunk of any operation is
    /// claimable; read only by a thread holding a claimed chunk of the current generation.
    private nonisolated(unsafe) var runChunk: ((Int) -> Void)?
    private var generation: UInt64 = 0  // caller side only, under the pool's submit lock

    private let sleepLock = PthreadMutex()
    private let wakeUp = PthreadCondition()
    private var sleepers = 0  // guarded by sleepLock

    /// Marks threads currently running chunks, so a nested parallelFor runs inline instead of
    /// waiting for itself.
    private static let insideBodyKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var isInsideBody: Bool { pthread_getspecific(insideBodyKey) != nil }

    /// Publishes an operation of `chunks` chunks, takes part in it, and waits for every chunk.
    /// Returns the nanoseconds the caller spent running chunks and then waiting for the rest.
    func run(chunks: Int, _ chunkBody: @escaping (Int) -> Void) -> (worked: UInt64, waited: UInt64) {
        runChunk = chunkBody
        completed.store(0, ordering: .relaxed)
        generation = (generation + 1) & 0xFFFF_FFFF
        if generation == 0 { generation = 1 }  // 0 is the idle state workers start from
        ticket.store(generation << 32 | UInt64(chunks) << 16, ordering: .releasing)
        sleepLock.lock()
        if sleepers > 0 { wakeUp.broadcast() }
        sleepLock.unlock()

        let start = monotonicNanoseconds()
        runAvailableChunks(of: generation)
        let ownChunksDone = monotonicNanoseconds()
        var spins = 0
        while completed.load(ordering: .acquiring) < chunks {
            spins += 1
            if spins > 2_000 { sched_yield() }
        }
        runChunk = nil
        return (ownChunksDone &- start, monotonicNanoseconds() &- ownChunksDone)
    }

    /// Claims and runs chunks of `generation` until none are left.
    private func runAvailableChunks(of generation: UInt64) {
        pthread_setspecific(Self.insideBodyKey, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(Self.insideBodyKey, nil) }
        var current = ticket.load(ordering: .acquiring)
        while true {
            guard current >> 32 == generation else { return }
            let chunkCount = (current >> 16) & 0xFFFF, index = current & 0xFFFF
            guard index < chunkCount else { return }
            let (exchanged, actual) = ticket.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if !exchanged {
                current = actual
                continue
            }
            runClaimedChunk(Int(index))
            // Released only after the body's closure reference is gone (see runClaimedChunk).
            completed.wrappingAdd(1, ordering: .releasing)
            current = ticket.load(ordering: .acquiring)
        }
    }

    /// Runs one claimed chunk. Not inlined so the reference to the body is released before the
    /// caller learns the chunk is complete (the body must not outlive `withoutActuallyEscaping`).
    @inline(never)
    private func runClaimedChunk(_ index: Int) {
        runChunk?(index)
    }

    func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var current = ticket.load(ordering: .acquiring) >> 32
            while current == seen && !stopping.load(ordering: .relaxed) {
                spins += 1
                if spins > 20_000 {
                    sleepLock.lock()
                    sleepers += 1
                    while ticket.load(ordering: .acquiring) >> 32 == seen && !stopping.load(ordering: .relaxed) {
                        wakeUp.wait(sleepLock)
                    }
                    sleepers -= 1
                    sleepLock.unlock()
                    spins = 0
                }
                current = ticket.load(ordering: .acquiring) >> 32
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = current
            runAvailableChunks(of: current)
        }
    }

    func shutDown() {
        stopping.store(true, ordering: .releasing)
        sleepLock.lock()
        wakeUp.broadcast()
        sleepLock.unlock()
    }
}

/// The monotonic clock in nanoseconds.
private func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// A pthread mutex at a stable address (pthread objects must not move).
private final class PthreadMutex: @unchecked Sendable {
    let raw = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(raw, nil) }
    deinit {
        pthread_mutex_destroy(raw)
        raw.deallocate()
    }
    func lock() { pthread_mutex_lock(raw) }
    func unlock() { pthread_mutex_unlock(raw) }
}

/// A pthread condition variable at a stable address.
private final class PthreadCondition: @unchecked Sendable {
    let raw = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    init() { pthread_cond_init(raw, nil) }
    deinit {
        pthread_cond_destroy(raw)
        raw.deallocate()
    }
    func wait(_ mutex: PthreadMutex) { pthread_cond_wait(raw, mutex.raw) }
    func broadcast() { pthread_cond_broadcast(raw) }
}
