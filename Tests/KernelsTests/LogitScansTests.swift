import Kernels
import Testing

/// The sampler's vocabulary scans against their scalar twins, on rows with NaN and infinities
/// at every position within a group of lanes and lengths that leave a tail.
@Suite struct LogitScansTests {
    /// Logits like a model's (a spread of a few units and some peaks) with non-finite values.
    static func row(_ count: Int, seed: UInt64, specials: Bool) -> [Float] {
        var values = randomFloats(count, seed: seed).map { $0 * 6 }
        var generator = SeededGenerator(seed: seed &+ 1)
        for _ in 0..<(count / 50 + 1) { values[Int(generator.next() % UInt64(count))] += 9 }
        if specials {
            for (offset, special) in [Float.nan, .infinity, -.infinity, .nan].enumerated() {
                values[Int(generator.next() % UInt64(count))] = special
                if count > offset { values[offset] = special }
            }
        }
        return values
    }

    static let shapes: [(count: Int, seed: UInt64, specials: Bool)] = [
        (1, 1, false), (15, 2, true), (16, 3, true), (17, 4, true), (100, 5, false), (1000, 6, true), (151_936, 7, true),
    ]

    @Test(arguments: 0..<shapes.count)
    func largestFiniteMatchesItsTwin(shape: Int) {
        let (count, seed, specials) = Self.shapes[shape]
        let values = Self.row(count, seed: seed, specials: specials)
        values.withUnsafeBufferPointer { #expect(largestFinite($0) == largestFiniteReference($0)) }
    }

    @Test func largestFiniteOfNothingFinite() {
        let values: [Float] = [.nan, .infinity, -.infinity] + [Float](repeating: .nan, count: 20)
        values.withUnsafeBufferPointer { #expect(largestFinite($0) == -.infinity) }
        [Float]().withUnsafeBufferPointer { #expect(largestFinite($0) == -.infinity) }
    }

    @Test(arguments: 0..<shapes.count)
    func sumOfExponentialsMatchesItsTwin(shape: Int) {
        let (count, seed, specials) = Self.shapes[shape]
        let values = Self.row(count, seed: seed, specials: specials)
        values.withUnsafeBufferPointer { row in
            let best = largestFiniteReference(row)
            for temperature: Float in [0.1, 0.8, 1, 3] {
                let fast = sumOfExponentials(row, subtracting: best, dividingBy: temperature)
                let twin = sumOfExponentialsReference(row, subtracting: best, dividingBy: temperature)
                // Float partial sums of up to 150k terms against a Double sum.
                #expect(abs(fast - twin) <= 2e-5 * twin, "T \(temperature): \(fast) vs \(twin)")
                #expect(fast >= 1, "the best term alone is 1")
            }
        }
    }

    /// The visitor raises the threshold as a bounded heap does: the visits must be the same.
    @Test(arguments: 0..<shapes.count)
    func visitElementsMatchesItsTwin(shape: Int) {
        let (count, seed, specials) = Self.shapes[shape]
        let values = Self.row(count, seed: seed, specials: specials)
        func visits(_ scan: (UnsafeBufferPointer<Float>, Float, (Int, Float) -> Float) -> Void, start: Float) -> [Int] {
            var seen: [Int] = []
            var kept: [Float] = []
            values.withUnsafeBufferPointer { row in
                scan(row, start) { index, value in
                    seen.append(index)
                    kept.append(value)
                    kept.sort(by: >)
                    if kept.count > 8 { kept.removeLast() }
                    return kept.count < 8 ? start : kept[kept.count - 1]
                }
            }
            return seen
        }
        for start: Float in [-.infinity, 0, 5] {
            let fast = visits({ visitElements(of: $0, above: $1, $2) }, start: start)
            let twin = visits({ visitElementsReference(of: $0, above: $1, $2) }, start: start)
            #expect(fast == twin, "threshold \(start)")
            #expect(!fast.contains { values[$0].isNaN })
        }
    }

    @Test(arguments: 0..<shapes.count)
    func indexOfLargestMatchesItsTwin(shape: Int) {
        let (count, seed, specials) = Self.shapes[shape]
        let values = Self.row(count, seed: seed, specials: specials)
        values.withUnsafeBufferPointer { #expect(indexOfLargest($0) == indexOfLargestReference($0)) }
    }

    @Test func indexOfLargestBreaksTiesTowardsTheLowestIndex() {
        var values = [Float](repeating: -1, count: 100)
        values[70] = 3
        values[33] = 3
        values[99] = 3
        values.withUnsafeBufferPointer { #expect(indexOfLargest($0) == 33) }
        let nothing = [Float](repeating: -.infinity, count: 40) + [.nan]
        nothing.withUnsafeBufferPointer { #expect(indexOfLargest($0) == 0) }
    }
}
