// The 32-value formats in `ProductOrder.blockSums`: each block's 32 products summed exactly in
// integers, eight blocks' sums converted together and multiplied by their scales into an
// eight-lane accumulator (lane j takes blocks j, j + 8, ...; blocks past the last eight go one by
// one into `rest`), summed as `hsum_float_8`. One conversion and one fused multiply-add per block
// instead of llama.cpp's eight: batched products (the panels) do about half the float work. The
// panels do exactly these operations per activation row, so a row's result never depends on its
// batch. `hearth serve` multiplies in this order (see `ProductOrder`).

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel

/// Lane j: the sum of the eight lanes of `v_j` (a transpose-and-add of eight blocks' lanes).
@inline(__always)
func laneSums(
    _ v0: __m256i, _ v1: __m256i, _ v2: __m256i, _ v3: __m256i, _ v4: __m256i, _ v5: __m256i, _ v6: __m256i, _ v7: __m256i
) -> __m256i {
    // hadd(hadd(v0, v1), hadd(v2, v3)) = [v0, v1, v2, v3 over lanes 0-3 | the same over lanes 4-7].
    let u0 = unsafeBitCast(_mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3)), to: SIMD8<Int32>.self)
    let u1 = unsafeBitCast(_mm256_hadd_epi32(_mm256_hadd_epi32(v4, v5), _mm256_hadd_epi32(v6, v7)), to: SIMD8<Int32>.self)
    return unsafeBitCast(SIMD8(lowHalf: u0.lowHalf &+ u0.highHalf, highHalf: u1.lowHalf &+ u1.highHalf), to: __m256i.self)
}

/// The f16 at byte 0 of each of eight consecutive blocks `blockBytes` apart, as floats.
@inline(__always)
func eightScales(_ base: UnsafeRawPointer, blockBytes: Int) -> __m256 {
    let halves = SIMD8<UInt16>(
        base.load(as: UInt16.self), (base + blockBytes).loadUnaligned(as: UInt16.self),
        (base + 2 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 3 &* blockBytes).loadUnaligned(as: UInt16.self),
        (base + 4 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 5 &* blockBytes).loadUnaligned(as: UInt16.self),
        (base + 6 &* blockBytes).loadUnaligned(as: UInt16.self), (base + 7 &* blockBytes).loadUnaligned(as: UInt16.self))
    return _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self))
}

/// Σ m_w * s_a over the blocks (Q4_1 / Q5_1), eight blocks per vector, then the rest in order.
@inline(__always)
func minimumTermBlockSums<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int,
    activationSums: UnsafePointer<Float>? = nil
) -> Float {
    let wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    var acc = _mm256_setzero_ps()
    var block = 0
    while block &+ 8 <= blocks {
        let s = activationSums.map { UnsafeRawPointer($0 + block).loadUnaligned(as: __m256.self) }
            ?? eightScales(activations + (block &* aBytes &+ 2), blockBytes: aBytes)
        acc = _mm256_add_ps(acc, _mm256_mul_ps(eightScales(weights + (block &* wBytes &+ 2), blockBytes: wBytes), s))
        block &+= 8
    }
    var rest: Float = 0
    while block < blocks {
        let s = activationSums.map { $0[block] } ?? (activations + block &* aBytes).half(at: 2)
        rest += (weights + block &* wBytes).half(at: 2) * s
        block &+= 1
    }
    return horizontalSum(acc) + rest
}

/// One weight row with one activation row in block-sum order.
@inline(__always)
func vnniDot32BlockSums<F: VNNIBlock32>(
    _ format: F.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int,
    activationScales: UnsafePointer<Float>? = nil, activationSums: UnsafePointer<Float>? = nil
) -> Float {
    var acc = _mm256_setzero_ps()
    let blocks = count / 32, wBytes = F.bytesPerBlock, aBytes = F.Activation.bytesPerBlock
    var block = 0
    while block &+ 8 <= blocks {
        let w = weights + block &* wBytes, a = activations + block &* aBytes
        let activationEight = activationScales.map { UnsafeRawPointer($0 + block).loadUnaligned(as: __m256.self) }
            ?? eightScales(a, blockBytes: aBytes)
        let scales = _mm256_mul_ps(eightScales(w, blockBytes: wBytes), activationEight)
        @inline(__always) func lanes(_ k: Int) -> __m256i { blockLanes(F.self, w + k &* wBytes, a + k &* aBytes) }
        let sums = laneSums(lanes(0), lanes(1), lanes(2), lanes(3), lanes(4), lanes(5), lanes(6), lanes(7))
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scales, acc)
        block &+= 8
    }
    var rest: Float = 0
    while block < blocks {
        let w = weights + block &* wBytes, a = activations + block &* aBytes
        let da = activationScales.map { $0[block] } ?? a.half(at: 0)
        rest.addProduct(Float(horizontalSum(blockLanes(F.self, w, a))), w.half(at: 0) * da)
        block &+= 1
    }
    let products = horizontalSum(acc) + rest
    return F.quantsAreSigned
        ? products
        : products + minimumTermBlockSums(F.self, weights, activations, blocks: blocks, activationSums: activationSums)
}

/// `vnniDot32BlockSums`' float part for each lane of a panel: `product(block)` gives a block's
/// converted integer sums and its scales d_w * d_a.
@inline(__always)
func accumulateBlockSums32<V: PanelLanes>(_ lanes: V.Type, blocks: Int, _ product: (Int) -> (V.Floats, V.Floats)) -> V.Floats {
    var acc = LaneAccumulators<V>()
    var block = 0
    while block &+ 8 <= blocks {
        var p = product(block); acc.a0 = V.multiplyAdd(p.0, p.1, acc.a0)
        p = product(block &+ 1); acc.a1 = V.multiplyAdd(p.0, p.1, acc.a1)
        p = product(block &+ 2); acc.a2 = V.multiplyAdd(p.0, p.1, acc.a2)
        p = product(block &+ 3); acc.a3 = V.multiplyAdd(p.0, p.1, acc.a3)
        p = product(block &+ 4); acc.a4 = V.multiplyAdd(p.0, p.1, acc.a4)
        p = product(block &+ 5); acc.a5 = V.multiplyAdd(p.0, p.1, acc.a5)
        p = product(block &+ 6); acc.a6 = V.multiplyAdd(p.0, p.1, acc.a6)
        p = product(block &+ 7); acc.a7 = V.multiplyAdd(p.0, p.1, acc.a7)
        block &+= 8
    }
    var rest = V.zeroFloats()
    while block < blocks {
        let p = product(block)
        rest = V.multiplyAdd(p.0, p.1, rest)
        block &+= 1
    }
    return V.add(acc.sum(), rest)
}

/// `minimumTermBlockSums` for each row of a panel.
@inline(__always)
func panelMinimumTermBlockSums<V: PanelLanes>(
    _ lanes: V.Type, _ panels: ActivationPanels32, _ panel: Int, weightMinimums: (Int) -> V.Floats
) -> V.Floats {
    var lanes = LaneAccumulators<V>()
    let first = panel &* panels.blocks, blocks = panels.blocks
    @inline(__always)
    func product(_ block: Int) -> V.Floats {
        V.multiply(weightMinimums(block), V.loadFloats(panels.sums + (first &+ block) &* V.width))
    }
    var block = 0
    while block &+ 8 <= blocks {
        lanes.a0 = V.add(lanes.a0, product(block)); lanes.a1 = V.add(lanes.a1, product(block &+ 1))
        lanes.a2 = V.add(lanes.a2, product(block &+ 2)); lanes.a3 = V.add(lanes.a3, product(block &+ 3))
        lanes.a4 = V.add(lanes.a4, product(block &+ 4)); lanes.a5 = V.add(lanes.a5, product(block &+ 5))
        lanes.a6 = V.add(lanes.a6, product(block &+ 6)); lanes.a7 = V.add(lanes.a7, product(block &+ 7))
        block &+= 8
    }
    var rest = V.zeroFloats()
    while block < blocks {
        rest = V.add(rest, product(block))
        block &+= 1
    }
    return V.add(lanes.sum(), rest)
}
#endif
