import Foundation

/// Measures how fast this machine reads memory: `threads` threads each sum their share of a
/// buffer much larger than the caches, several times; the best pass wins (as STREAM reports).
///
/// ```swift
/// let gbps = MemoryBandwidth.measureRead(bytes: 1 << 30, threads: 2) / 1e9
/// ```
public enum MemoryBandwidth {
    /// Bytes per second.
    public static func measureRead(bytes: Int = 512 << 20, threads: Int, passes: Int = 5) -> Double {
        let count = max(1 << 20, bytes / MemoryLayout<Float>.size)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        // Touch every page so the first timed pass does not measure page faults.
        buffer.initialize(repeating: 1, count: count)
        let pool = ThreadPool(threads: threads)
        var best = 0.0
        var sink: Float = 0
        for _ in 0..<passes {
            var partial = [Float](repeating: 0, count: pool.threadCount * 16)
            let start = DispatchTime.now().uptimeNanoseconds
            partial.withUnsafeMutableBufferPointer { sums in
                let chunk = (count + pool.threadCount - 1) / pool.threadCount
                pool.parallelFor(pool.threadCount) { range in
                    for part in range {
                        let lower = part * chunk
                        let upper = min(count, lower + chunk)
                        guard lower < upper else { continue }
                        sums[part * 16] = sumOfFloats(buffer + lower, upper - lower)
                    }
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            sink += partial.reduce(0, +)
            best = max(best, Double(count * MemoryLayout<Float>.size) / seconds)
        }
        // Keep the sums alive so the reads are not optimised away.
        if sink == -1 { print(sink) }
        return best
    }

    /// Eight independent accumulators so the loop is bound by loads, not by the add latency.
    private static func sumOfFloats(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }
}
