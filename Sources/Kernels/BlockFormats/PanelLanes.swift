// The lanes of a panel (VNNIPanels32.swift, VNNIKQuantPanels.swift): one activation row per
// 32-bit lane, 16 in a 512-bit register. The panel kernels are written over `PanelLanes`; an
// 8-row version in 256-bit registers (`Lanes8`, removed) measured no faster per instruction than
// the 16-row one on this machine (AMD Zen 4 splits 512-bit operations in two), so a batch of up to
// 8 rows instead fills both halves of a 512-bit register against two weight rows (mirrored
// panels, `MirroredPairRows`, `mirroredPairRow32`).

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

protocol PanelLanes {
    associatedtype Floats
    associatedtype Ints
    /// Activation rows per panel.
    static var width: Int { get }
    static func zeroFloats() -> Floats
    static func zeroInts() -> Ints
    static func splat(_ x: Float) -> Floats
    static func splat(_ x: Int32) -> Ints
    static func loadFloats(_ p: UnsafeRawPointer) -> Floats
    static func loadInts(_ p: UnsafeRawPointer) -> Ints
    /// `acc` plus, in each lane, the four products of `unsigned`'s bytes with `signed`'s (`vpdpbusd`).
    static func dotBytes(_ acc: Ints, _ unsigned: Ints, _ signed: Ints) -> Ints
    /// `acc` plus, in each lane, the products of the two 16-bit halves of `a` with those of `b`
    /// (`vpdpwssd`).
    static func dotWords(_ acc: Ints, _ a: Ints, _ b: Ints) -> Ints
    static func add(_ a: Ints, _ b: Ints) -> Ints
    static func subtract(_ a: Ints, _ b: Ints) -> Ints
    static func multiply(_ a: Ints, _ b: Ints) -> Ints
    /// Each lane times 32.
    static func times32(_ a: Ints) -> Ints
    static func float(_ a: Ints) -> Floats
    static func add(_ a: Floats, _ b: Floats) -> Floats
    static func subtract(_ a: Floats, _ b: Floats) -> Floats
    static func multiply(_ a: Floats, _ b: Floats) -> Floats
    /// a * b + c, rounded once.
    static func multiplyAdd(_ a: Floats, _ b: Floats, _ c: Floats) -> Floats
    /// `a` in the lanes whose bit is set in `mask`, `b` in the others.
    static func select(_ mask: UInt16, _ a: Floats, _ b: Floats) -> Floats
    /// Stores all lanes at `p`.
    static func store(_ x: Floats, _ p: UnsafeMutablePointer<Float>)
}

/// Sixteen rows: 512-bit registers.
enum Lanes16: PanelLanes {
    static var width: Int { 16 }
    @inline(__always) static func zeroFloats() -> __m512 { _mm512_setzero_ps() }
    @inline(__always) static func zeroInts() -> __m512i { _mm512_setzero_si512() }
    @inline(__always) static func splat(_ x: Float) -> __m512 { _mm512_set1_ps(x) }
    @inline(__always) static func splat(_ x: Int32) -> __m512i { _mm512_set1_epi32(x) }
    @inline(__always) static func loadFloats(_ p: UnsafeRawPointer) -> __m512 { p.loadUnaligned(as: __m512.self) }
    @inline(__always) static func loadInts(_ p: UnsafeRawPointer) -> __m512i { p.loadUnaligned(as: __m512i.self) }
    @inline(__always) static func dotBytes(_ acc: __m512i, _ unsigned: __m512i, _ signed: __m512i) -> __m512i {
        _mm512_dpbusd_epi32(acc, unsigned, signed)
    }
    @inline(__always) static func dotWords(_ acc: __m512i, _ a: __m512i, _ b: __m512i) -> __m512i {
        _mm512_dpwssd_epi32(acc, a, b)
    }
    @inline(__always) static func add(_ a: __m512i, _ b: __m512i) -> __m512i { _mm512_add_epi32(a, b) }
    @inline(__always) static func subtract(_ a: __m512i, _ b: __m512i) -> __m512i { _mm512_sub_epi32(a, b) }
    @inline(__always) static func multiply(_ a: __m512i, _ b: __m512i) -> __m512i { _mm512_mullo_epi32(a, b) }
    @inline(__always) static func times32(_ a: __m512i) -> __m512i { _mm512_slli_epi32(a, 5) }
    @inline(__always) static func float(_ a: __m512i) -> __m512 { _mm512_cvtepi32_ps(a) }
    @inline(__always) static func add(_ a: __m512, _ b: __m512) -> __m512 { _mm512_add_ps(a, b) }
    @inline(__always) static func subtract(_ a: __m512, _ b: __m512) -> __m512 { _mm512_sub_ps(a, b) }
    @inline(__always) static func multiply(_ a: __m512, _ b: __m512) -> __m512 { _mm512_mul_ps(a, b) }
    @inline(__always) static func multiplyAdd(_ a: __m512, _ b: __m512, _ c: __m512) -> __m512 { _mm512_fmadd_ps(a, b, c) }
    @inline(__always) static func select(_ mask: UInt16, _ a: __m512, _ b: __m512) -> __m512 { _mm512_mask_blend_ps(mask, b, a) }
    @inline(__always) static func store(_ x: __m512, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: x, as: __m512.self)
    }
}

/// Two sixteen-row results side by side (two weight rows with one panel): every operation on
/// both, an activation load made once for the two.
enum TwoLanes16: PanelLanes {
    typealias Floats = (__m512, __m512)
    typealias Ints = (__m512i, __m512i)
    static var width: Int { 16 }
    @inline(__always) static func zeroFloats() -> Floats { (_mm512_setzero_ps(), _mm512_setzero_ps()) }
    @inline(__always) static func zeroInts() -> Ints { (_mm512_setzero_si512(), _mm512_setzero_si512()) }
    @inline(__always) static func splat(_ x: Float) -> Floats { let v = _mm512_set1_ps(x); return (v, v) }
    @inline(__always) static func splat(_ x: Int32) -> Ints { let v = _mm512_set1_epi32(x); return (v, v) }
    @inline(__always) static func loadFloats(_ p: UnsafeRawPointer) -> Floats { let v = p.loadUnaligned(as: __m512.self); return (v, v) }
    @inline(__always) static func loadInts(_ p: UnsafeRawPointer) -> Ints { let v = p.loadUnaligned(as: __m512i.self); return (v, v) }
    @inline(__always) static func dotBytes(_ acc: Ints, _ unsigned: Ints, _ signed: Ints) -> Ints {
        (_mm512_dpbusd_epi32(acc.0, unsigned.0, signed.0), _mm512_dpbusd_epi32(acc.1, unsigned.1, signed.1))
    }
    @inline(__always) static func dotWords(_ acc: Ints, _ a: Ints, _ b: Ints) -> Ints {
        (_mm512_dpwssd_epi32(acc.0, a.0, b.0), _mm512_dpwssd_epi32(acc.1, a.1, b.1))
    }
    @inline(__always) static func add(_ a: Ints, _ b: Ints) -> Ints { (_mm512_add_epi32(a.0, b.0), _mm512_add_epi32(a.1, b.1)) }
    @inline(__always) static func subtract(_ a: Ints, _ b: Ints) -> Ints { (_mm512_sub_epi32(a.0, b.0), _mm512_sub_epi32(a.1, b.1)) }
    @inline(__always) static func multiply(_ a: Ints, _ b: Ints) -> Ints { (_mm512_mullo_epi32(a.0, b.0), _mm512_mullo_epi32(a.1, b.1)) }
    @inline(__always) static func times32(_ a: Ints) -> Ints { (_mm512_slli_epi32(a.0, 5), _mm512_slli_epi32(a.1, 5)) }
    @inline(__always) static func float(_ a: Ints) -> Floats { (_mm512_cvtepi32_ps(a.0), _mm512_cvtepi32_ps(a.1)) }
    @inline(__always) static func add(_ a: Floats, _ b: Floats) -> Floats { (_mm512_add_ps(a.0, b.0), _mm512_add_ps(a.1, b.1)) }
    @inline(__always) static func subtract(_ a: Floats, _ b: Floats) -> Floats { (_mm512_sub_ps(a.0, b.0), _mm512_sub_ps(a.1, b.1)) }
    @inline(__always) static func multiply(_ a: Floats, _ b: Floats) -> Floats { (_mm512_mul_ps(a.0, b.0), _mm512_mul_ps(a.1, b.1)) }
    @inline(__always) static func multiplyAdd(_ a: Floats, _ b: Floats, _ c: Floats) -> Floats {
        (_mm512_fmadd_ps(a.0, b.0, c.0), _mm512_fmadd_ps(a.1, b.1, c.1))
    }
    @inline(__always) static func select(_ mask: UInt16, _ a: Floats, _ b: Floats) -> Floats {
        (_mm512_mask_blend_ps(mask, b.0, a.0), _mm512_mask_blend_ps(mask, b.1, a.1))
    }
    /// The first result's 16 lanes at `p`, the second's after them.
    @inline(__always) static func store(_ x: Floats, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: x.0, as: __m512.self)
        UnsafeMutableRawPointer(p + 16).storeBytes(of: x.1, as: __m512.self)
    }
}

/// Where a panel kernel's weight quants come from, four per lane: `group(i)` for the i-th group of
/// four values from `start`.
protocol PanelWeightGroups {
    associatedtype V: PanelLanes
    func group(_ i: Int) -> V.Ints
}

/// One weight row's quants, the same four in every lane.
struct BroadcastGroups<V: PanelLanes>: PanelWeightGroups {
    let start: UnsafeRawPointer
    @inline(__always) func group(_ i: Int) -> V.Ints { V.splat(start.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)) }
}

/// Two weight rows' quants (up to 8 groups of each, loaded together): row A's group in lanes 0-7,
/// row B's in lanes 8-15.
struct PairGroups: PanelWeightGroups {
    typealias V = Lanes16
    let both: __m512i
    init(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) {
        both = unsafeBitCast(SIMD16<Int32>(lowHalf: a.loadUnaligned(as: SIMD8<Int32>.self), highHalf: b.loadUnaligned(as: SIMD8<Int32>.self)), to: __m512i.self)
    }
    @inline(__always) func group(_ i: Int) -> __m512i {
        let index = SIMD16<Int32>(lowHalf: SIMD8(repeating: Int32(truncatingIfNeeded: i)), highHalf: SIMD8(repeating: Int32(truncatingIfNeeded: 8 &+ i)))
        return _mm512_permutexvar_epi32(unsafeBitCast(index, to: __m512i.self), both)
    }
}

/// The weight side of a panel kernel: one row in every lane, two rows each in every lane
/// (`TwoRows`, two results), or two rows against a mirrored panel (`MirroredPairRows`). The rows'
/// decoded or unpacked quants are at `unpacked`: 256 bytes per super-block for the K-quants, 32
/// per block for the 32-value formats (which ask for block 0 at offset 32 * block).
protocol PanelRows {
    associatedtype V: PanelLanes
    associatedtype Groups: PanelWeightGroups where Groups.V == V
    /// The bytes of the first and of the last row.
    var first: UnsafeRawPointer { get }
    var last: UnsafeRawPointer { get }
    /// The rows' unpacked quants from byte `offset` of super-block `block`.
    func groups(block: Int, offset: Int) -> Groups
    /// A value of the first row and of the last one, in their lanes.
    func lanes(_ first: Int32, _ last: Int32) -> V.Ints
    func lanes(_ first: Float, _ last: Float) -> V.Floats
}

struct SingleRow<V: PanelLanes>: PanelRows {
    let first: UnsafeRawPointer
    let unpacked: UnsafeRawPointer
    var last: UnsafeRawPointer { first }
    @inline(__always) func groups(block: Int, offset: Int) -> BroadcastGroups<V> {
        BroadcastGroups(start: unpacked + (block &* 256 &+ offset))
    }
    @inline(__always) func lanes(_ first: Int32, _ last: Int32) -> V.Ints { V.splat(first) }
    @inline(__always) func lanes(_ first: Float, _ last: Float) -> V.Floats { V.splat(first) }
}

/// Two weight rows with one 16-row panel: each activation vector loaded once for both.
struct TwoRows: PanelRows {
    typealias V = TwoLanes16
    let first: UnsafeRawPointer, last: UnsafeRawPointer
    let unpackedFirst: UnsafeRawPointer, unpackedLast: UnsafeRawPointer
    @inline(__always) func groups(block: Int, offset: Int) -> TwoBroadcastGroups {
        TwoBroadcastGroups(first: unpackedFirst + (block &* 256 &+ offset), last: unpackedLast + (block &* 256 &+ offset))
    }
    @inline(__always) func lanes(_ first: Int32, _ last: Int32) -> TwoLanes16.Ints { (_mm512_set1_epi32(first), _mm512_set1_epi32(last)) }
    @inline(__always) func lanes(_ first: Float, _ last: Float) -> TwoLanes16.Floats { (_mm512_set1_ps(first), _mm512_set1_ps(last)) }
}

struct MirroredPairRows: PanelRows {
    typealias V = Lanes16
    let first: UnsafeRawPointer, last: UnsafeRawPointer
    let unpackedFirst: UnsafeRawPointer, unpackedLast: UnsafeRawPointer
    @inline(__always) func groups(block: Int, offset: Int) -> PairGroups {
        PairGroups(unpackedFirst + (block &* 256 &+ offset), unpackedLast + (block &* 256 &+ offset))
    }
    @inline(__always) func lanes(_ first: Int32, _ last: Int32) -> __m512i {
        unsafeBitCast(SIMD16<Int32>(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: last)), to: __m512i.self)
    }
    @inline(__always) func lanes(_ first: Float, _ last: Float) -> __m512 {
        unsafeBitCast(SIMD16<Float>(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: last)), to: __m512.self)
    }
}

/// Two weight rows' quants, each the same four in every lane of its own register.
struct TwoBroadcastGroups: PanelWeightGroups {
    typealias V = TwoLanes16
    let first: UnsafeRawPointer, last: UnsafeRawPointer
    @inline(__always) func group(_ i: Int) -> TwoLanes16.Ints {
        (_mm512_set1_epi32(first.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)),
         _mm512_set1_epi32(last.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)))
    }
}

/// `count` elements aligned to 64 bytes: a panel's 512-bit loads must not straddle cache lines
/// (malloc's 16-byte alignment made a panel product take 0.35 ms instead of 0.19 in some runs).
func allocatePanelStorage<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer.allocate(byteCount: max(1, count) &* MemoryLayout<T>.stride, alignment: 64)
        .bindMemory(to: T.self, capacity: max(1, count))
}

/// One byte of each cache line of `bytes` bytes at `p`, combined: a prefetch that Swift keeps
/// (Clang's prefetch intrinsics reach Swift but are optimised away). The result goes to
/// `touchedCacheLines` so that the loads stay.
@inline(__always)
func touchCacheLines(_ p: UnsafeRawPointer, bytes: Int) -> UInt8 {
    var combined: UInt8 = 0
    var offset = 0
    while offset < bytes {
        combined ^= p.load(fromByteOffset: offset, as: UInt8.self)
        offset &+= 64
    }
    return combined
}

/// Where `touchCacheLines` results go (never read).
nonisolated(unsafe) var touchedCacheLines: UInt8 = 0

/// Y = X W^T for up to 8 activation rows through one mirrored panel: threads split the weight
/// rows, taken two at a time (a last odd row pairs with itself); `pair(rowA, rowB, scratch)` gives
/// row A's results in lanes 0-7 and row B's in lanes 8-15. The next pair's bytes are loaded ahead
/// (a byte per cache line) so that their misses overlap this pair's arithmetic: otherwise the
/// loop waits on memory (measured, qwen0.5b batch-8 decode: 150 t/s without, 221-230 with).
@inline(__always)
func forEachMirroredPair(
    weights: UnsafeRawPointer, rows: Int, rowBytes: Int, batch: Int, output: UnsafeMutablePointer<Float>,
    pool: ThreadPool?, parallel: Bool, scratchBytes: Int,
    _ pair: (UnsafeRawPointer, UnsafeRawPointer, UnsafeMutablePointer<UInt8>) -> __m512
) {
    withoutActuallyEscaping(pair) { pair in
        let work = { (range: Range<Int>) in
            let scratch = allocatePanelStorage(UInt8.self, count: scratchBytes &+ 64)
            defer { scratch.deallocate() }
            let lanes = UnsafeMutableRawPointer(scratch + scratchBytes).assumingMemoryBound(to: Float.self)
            var r = range.lowerBound
            var touched: UInt8 = 0
            while r < range.upperBound {
                if r &+ 3 < range.upperBound { touched ^= touchCacheLines(weights + (r &+ 2) &* rowBytes, bytes: 2 &* rowBytes) }
                let rowA = weights + r &* rowBytes, rowB = r &+ 1 < range.upperBound ? rowA + rowBytes : rowA
                Lanes16.store(pair(rowA, rowB, scratch), lanes)
                for b in 0..<batch { output[b &* rows &+ r] = lanes[b] }
                if r &+ 1 < range.upperBound {
                    for b in 0..<batch { output[b &* rows &+ r &+ 1] = lanes[8 &+ b] }
                }
                r &+= 2
            }
            touchedCacheLines = touched
        }
        if parallel, let pool { pool.parallelFor(rows, grain: 4, work) } else { work(0..<rows) }
    }
}

/// Writes the lanes of `results` for the `valid` real rows of a panel, `stride` floats apart.
@inline(__always)
func storePanelLanes<V: PanelLanes>(_ lanes: V.Type, _ results: V.Floats, valid: Int, _ output: UnsafeMutablePointer<Float>, stride: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { buffer in
        let values = buffer.baseAddress!
        V.store(results, values)
        for lane in 0..<valid { output[lane &* stride] = values[lane] }
    }
}

/// Runs the product over the rows of a batch in panels: 16-row panels (`multiply16(first, count)`)
/// while 16 or more rows remain, then a mirrored panel (`multiply8`) for a remainder of up to 8 (a
/// 16-row one above that).
@inline(__always)
func forEachPanelWidth(batch: Int, _ multiply16: (Int, Int) -> Void, _ multiply8: (Int, Int) -> Void) {
    let remainder = batch % 16
    if remainder > 0 && remainder <= 8 {
        if batch > remainder { multiply16(0, batch &- remainder) }
        multiply8(batch &- remainder, remainder)
    } else {
        multiply16(0, batch)
    }
}

/// The batch from which the 32-value formats' panels beat row dots (measured, 2 threads, 4864 x 896
/// Q5_0: 2 rows 0.16 ms as row dots vs 0.24 ms as one 8-row panel, 4 rows 0.32 vs 0.21).
let panelsPayFromBatch32 = 3
#endif
