import Foundation
import Kernels

#if canImport(Darwin)
import Darwin
#endif

/// The machine Hearth runs on: memory, cores, SIMD features, and its measured read bandwidth.
public struct HostDevice: Sendable, Equatable {
    public var cpuName: String
    public var cores: Int
    public var totalMemoryBytes: Double
    /// Memory the kernel could hand out now without swapping (Linux `MemAvailable`; on macOS
    /// free + inactive + purgeable pages).
    public var availableMemoryBytes: Double?
    public var simdFeatures: [String]

    /// Identifies the machine in caches: bench records and bandwidth probes from another machine
    /// (a store copied over, a changed VM) must not be taken for this one's.
    public var signature: String {
        "\(cpuName)|\(cores) cores|\(Int(totalMemoryBytes / 1_048_576)) MiB"
    }

    /// Reads this machine's facts (cheap: no measurement).
    public static func current() -> HostDevice {
        let info = ProcessInfo.processInfo
        return HostDevice(cpuName: cpuName(), cores: info.activeProcessorCount,
                          totalMemoryBytes: Double(info.physicalMemory),
                          availableMemoryBytes: availableMemory(), simdFeatures: simdFeatures())
    }

    /// Usable memory here: 85% of the total (the OS and desktop keep the rest), and no more
    /// than is available right now, since other programs' memory is not ours to count on.
    public func target(bandwidth: Double, bandwidthSource: String) -> Target {
        let share = totalMemoryBytes * UsableMemory.systemFraction
        let usable = min(share, availableMemoryBytes ?? share)
        let reason = usable < share
            ? "the memory available now (less than 85% of RAM: other programs hold the rest)"
            : "85% of RAM: the operating system, page cache and other programs keep the rest"
        return Target(title: "this machine (\(cpuName), \(cores) cores)", totalMemoryBytes: totalMemoryBytes,
                      usableMemoryBytes: usable, usableReason: reason, bandwidth: bandwidth,
                      bandwidthSource: bandwidthSource, isThisMachine: true)
    }

    private static func cpuName() -> String {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let key = parts[0].trimmingCharacters(in: .whitespaces)
                if key == "model name" || key == "Model" || key == "Hardware" {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return "unknown CPU"
        #else
        return sysctlString("machdep.cpu.brand_string") ?? "unknown CPU"
        #endif
    }

    private static func availableMemory() -> Double? {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Double(fields[1]) { return kib * 1024 }
        }
        return nil
        #elseif canImport(Darwin)
        var stats = vm_statistics64()
        var count = mach_msg_type_number_t(MemoryLayout<vm_statistics64>.size / MemoryLayout<integer_t>.size)
        let result = withUnsafeMutablePointer(to: &stats) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                host_statistics64(mach_host_self(), HOST_VM_INFO64, $0, &count)
            }
        }
        guard result == KERN_SUCCESS else { return nil }
        let pages = Double(stats.free_count) + Double(stats.inactive_count) + Double(stats.purgeable_count)
        return pages * Double(vm_page_size)
        #else
        return nil
        #endif
    }

    /// The vector extensions the kernels can use, as the OS reports them.
    private static func simdFeatures() -> [String] {
        #if os(Linux)
        let interesting: Set<String> = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
                                        "avx_vnni", "avx512_bf16", "asimd", "asimddp", "fphp", "asimdhp", "sve", "i8mm"]
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") || line.hasPrefix("Features") {
            let flags = line.split(separator: ":", maxSplits: 1).last?.split(separator: " ").map(String.init) ?? []
            return flags.filter { interesting.contains($0) }
        }
        return []
        #elseif canImport(Darwin)
        let keys = ["hw.optional.neon": "neon", "hw.optional.arm.FEAT_DotProd": "dotprod",
                    "hw.optional.arm.FEAT_FP16": "fp16", "hw.optional.arm.FEAT_I8MM": "i8mm",
                    "hw.optional.arm.FEAT_BF16": "bf16", "hw.optional.avx2_0": "avx2", "hw.optional.avx512f": "avx512f"]
        return keys.keys.sorted().compactMap { key in sysctlInt(key) == 1 ? keys[key] : nil }
        #else
        return []
        #endif
    }

    #if canImport(Darwin)
    private static func sysctlString(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return nil }
        return String(cString: buffer)
    }

    private static func sysctlInt(_ name: String) -> Int? {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard sysctlbyname(name, &value, &size, nil, 0) == 0 else { return nil }
        return Int(value)
    }
    #endif
}

/// A read-bandwidth measurement of this machine, cached in the store (`cache/device.json`)
/// because the probe takes a few seconds; `hearth fit --measure` takes a fresh one.
public struct BandwidthProbe: Sendable, Equatable, Codable {
    public var host: String
    public var threads: Int
    /// Bytes per second.
    public var bandwidth: Double
    public var date: Date

    /// The cached measurement for this host and thread count, else a new one (then cached).
    /// A failure to write the cache only loses the cache.
    public static func load(cache file: URL, host: HostDevice, threads: Int, remeasure: Bool) -> (probe: BandwidthProbe, fresh: Bool) {
        if !remeasure, let data = try? Data(contentsOf: file),
            let cached = try? decoder.decode(BandwidthProbe.self, from: data),
            cached.host == host.signature, cached.threads == threads, cached.bandwidth > 0
        {
            return (cached, false)
        }
        // 512 MiB, far past any cache; the best of five passes, as STREAM reports.
        let probe = BandwidthProbe(host: host.signature, threads: threads,
                                   bandwidth: MemoryBandwidth.measureRead(bytes: 512 << 20, threads: threads, passes: 5),
                                   date: Date())
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(probe) {
            try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? data.write(to: file, options: .atomic)
        }
        return (probe, true)
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
