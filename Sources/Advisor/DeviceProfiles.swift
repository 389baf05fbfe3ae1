/// A number together with where it comes from, so every hardware figure `hearth fit` uses can
/// be printed with its public source.
public struct Sourced<Value: Sendable & Equatable>: Sendable, Equatable {
    public let value: Value
    public let source: String

    public init(_ value: Value, _ source: String) {
        self.value = value
        self.source = source
    }
}

/// What kind of memory the model would live in; it decides how much of it is usable.
public enum MemoryKind: String, Sendable, Equatable, Codable {
    /// Apple silicon: one pool shared by CPU and GPU, managed by macOS.
    case appleUnified
    /// A PC's DRAM, read by the CPU.
    case systemRAM
    /// A discrete GPU's own memory.
    case discreteGPU
}

/// A machine `hearth fit --device NAME` can reason about: its memory options and the memory
/// bandwidth a decoder streams its weights through.
public struct DeviceProfile: Sendable, Equatable {
    /// The `--device` name, e.g. `m4-pro`.
    public let name: String
    /// A human name, e.g. "Apple M4 Pro".
    public let title: String
    public let kind: MemoryKind
    /// Memory configurations sold, in GB (decimal as marketed; Apple's "16GB" is 16 GiB).
    public let memoryOptionsGB: Sourced<[Int]>
    /// Peak memory bandwidth in GB/s (10⁹ bytes per second).
    public let bandwidthGBps: Sourced<Double>
    /// Not yet shipped (or not confirmed by the maker): the numbers are reports or extrapolations.
    public let projected: Bool

    public var largestMemoryGB: Int { memoryOptionsGB.value.max() ?? 0 }

    public init(name: String, title: String, kind: MemoryKind, memoryOptionsGB: Sourced<[Int]>,
                bandwidthGBps: Sourced<Double>, projected: Bool = false) {
        self.name = name
        self.title = title
        self.kind = kind
        self.memoryOptionsGB = memoryOptionsGB
        self.bandwidthGBps = bandwidthGBps
        self.projected = projected
    }
}

/// Apple's announcements and product pages, cited once each.
private enum AppleSource {
    static let m1 = "AnandTech, 'Apple's M1: The Mac mini Tested' (2020-11-17), https://www.anandtech.com/show/16252/mac-mini-apple-m1-tested — LPDDR4X-4266 on a 128-bit bus: 4266 MT/s × 16 B = 68.25 GB/s"
    static let m1Memory = "Apple Newsroom, 'Apple unleashes M1' (2020-11-10), https://www.apple.com/newsroom/2020/11/apple-unleashes-m1/ and the M1 Macs' tech specs — 8GB, configurable to 16GB"
    static let m1ProMax = "Apple Newsroom, 'Introducing M1 Pro and M1 Max' (2021-10-18), https://www.apple.com/newsroom/2021/10/introducing-m1-pro-and-m1-max-the-most-powerful-chips-apple-has-ever-built/ — M1 Pro up to 200GB/s, up to 32GB; M1 Max up to 400GB/s, up to 64GB"
    static let m2 = "Apple Newsroom, 'Apple unveils M2' (2022-06-06), https://www.apple.com/newsroom/2022/06/apple-unveils-m2-with-breakthrough-performance-and-capabilities/ — 100GB/s, up to 24GB"
    static let m2ProMax = "Apple Newsroom, 'Apple unveils M2 Pro and M2 Max' (2023-01-17), https://www.apple.com/newsroom/2023/01/apple-unveils-m2-pro-and-m2-max-next-generation-chips-for-next-level-workflows/ — M2 Pro 200GB/s, up to 32GB; M2 Max 400GB/s, up to 96GB"
    static let m3 = "Apple Newsroom, 'Apple unveils M3, M3 Pro, and M3 Max' (2023-10-30), https://www.apple.com/newsroom/2023/10/apple-unveils-m3-m3-pro-and-m3-max-the-most-advanced-chips-for-a-personal-computer/ and the MacBook Pro (M3) tech specs — M3 100GB/s; 8GB, 16GB or 24GB"
    static let m3ProMax = "Apple, MacBook Pro (M3 Pro or M3 Max, Nov 2023) tech specs via MacRumors, 'Apple M3 Pro Chip Has 25% Less Memory Bandwidth' (2023-10-31), https://www.macrumors.com/2023/10/31/apple-m3-pro-less-memory-bandwidth/ — M3 Pro 150GB/s (18GB or 36GB); M3 Max 300GB/s (14-core) or 400GB/s (16-core), up to 128GB"
    static let m4 = "Apple Newsroom, 'Apple introduces M4 chip' (2024-05-07), https://www.apple.com/newsroom/2024/05/apple-introduces-m4-chip/ — 120GB/s; Mac configurations 16GB, 24GB or 32GB (Apple Newsroom, 2024-10-29)"
    static let m4ProMax = "Apple Newsroom, 'Apple introduces M4 Pro and M4 Max' (2024-10-30), https://www.apple.com/newsroom/2024/10/apple-introduces-m4-pro-and-m4-max/ — M4 Pro 273GB/s, up to 64GB; M4 Max up to 546GB/s (410GB/s for the 14-core), up to 128GB"
    static let m5 = "Apple Newsroom, 'Apple unleashes M5' (2025-10-15), https://www.apple.com/newsroom/2025/10/apple-unleashes-m5-the-next-big-leap-in-ai-performance-for-apple-silicon/ — 153GB/s, up to 32GB"
    static let m5Max = "Projected. Reported as up to 128GB at 614GB/s (thedailyscout.com/s/RBeSWv0Jfmg); it is also what a 512-bit LPDDR5X-9600 bus gives (9600 MT/s × 64 B = 614.4 GB/s), the M5's memory (153GB/s on 128 bits) at M4 Max width"
}

/// Common PCs, from the memory standards and the makers' spec pages.
private enum PCSource {
    static let ddr4 = "JEDEC DDR4-3200: 3200 MT/s × 8 B = 25.6 GB/s per 64-bit channel; two channels = 51.2 GB/s (JESD79-4, https://www.jedec.org/standards-documents/docs/jesd79-4a)"
    static let ddr5 = "JEDEC DDR5-5600: 5600 MT/s × 8 B = 44.8 GB/s per 64-bit DIMM; two DIMMs = 89.6 GB/s (JESD79-5, https://www.jedec.org/standards-documents/docs/jesd79-5b)"
    static let strixHalo = "AMD, Ryzen AI Max+ 395 product page, https://www.amd.com/en/products/processors/laptop/ryzen/ai-max-300-series/amd-ryzen-ai-max-plus-395.html — LPDDR5X-8000, 256-bit: 8000 MT/s × 32 B = 256 GB/s, up to 128GB"
    static let rtx4090 = "NVIDIA, GeForce RTX 4090 specifications, https://www.nvidia.com/en-us/geforce/graphics-cards/40-series/rtx-4090/ — 24GB GDDR6X, 384-bit at 21 Gbps = 1008 GB/s"
    static let pi5 = "Raspberry Pi 5 product brief, https://datasheets.raspberrypi.com/rpi5/raspberry-pi-5-product-brief.pdf — LPDDR4X-4267, 32-bit: 4267 MT/s × 4 B = 17.1 GB/s; 2, 4, 8 or 16GB"
}

extension DeviceProfile {
    /// Every profile `--device` accepts, Apple first in order of release.
    public static let all: [DeviceProfile] = [
        DeviceProfile(name: "m1", title: "Apple M1", kind: .appleUnified,
                      memoryOptionsGB: Sourced([8, 16], AppleSource.m1Memory),
                      bandwidthGBps: Sourced(68.25, AppleSource.m1)),
        DeviceProfile(name: "m1-pro", title: "Apple M1 Pro", kind: .appleUnified,
                      memoryOptionsGB: Sourced([16, 32], AppleSource.m1ProMax),
                      bandwidthGBps: Sourced(200, AppleSource.m1ProMax)),
        DeviceProfile(name: "m1-max", title: "Apple M1 Max", kind: .appleUnified,
                      memoryOptionsGB: Sourced([32, 64], AppleSource.m1ProMax),
                      bandwidthGBps: Sourced(400, AppleSource.m1ProMax)),
        DeviceProfile(name: "m2", title: "Apple M2", kind: .appleUnified,
                      memoryOptionsGB: Sourced([8, 16, 24], AppleSource.m2),
                      bandwidthGBps: Sourced(100, AppleSource.m2)),
        DeviceProfile(name: "m2-pro", title: "Apple M2 Pro", kind: .appleUnified,
                      memoryOptionsGB: Sourced([16, 32], AppleSource.m2ProMax),
                      bandwidthGBps: Sourced(200, AppleSource.m2ProMax)),
        DeviceProfile(name: "m2-max", title: "Apple M2 Max", kind: .appleUnified,
                      memoryOptionsGB: Sourced([32, 64, 96], AppleSource.m2ProMax),
                      bandwidthGBps: Sourced(400, AppleSource.m2ProMax)),
        DeviceProfile(name: "m3", title: "Apple M3", kind: .appleUnified,
                      memoryOptionsGB: Sourced([8, 16, 24], AppleSource.m3),
                      bandwidthGBps: Sourced(100, AppleSource.m3)),
        DeviceProfile(name: "m3-pro", title: "Apple M3 Pro", kind: .appleUnified,
                      memoryOptionsGB: Sourced([18, 36], AppleSource.m3ProMax),
                      bandwidthGBps: Sourced(150, AppleSource.m3ProMax)),
        DeviceProfile(name: "m3-max", title: "Apple M3 Max (16-core CPU)", kind: .appleUnified,
                      memoryOptionsGB: Sourced([48, 64, 128], AppleSource.m3ProMax),
                      bandwidthGBps: Sourced(400, AppleSource.m3ProMax)),
        DeviceProfile(name: "m4", title: "Apple M4", kind: .appleUnified,
                      memoryOptionsGB: Sourced([16, 24, 32], AppleSource.m4),
                      bandwidthGBps: Sourced(120, AppleSource.m4)),
        DeviceProfile(name: "m4-pro", title: "Apple M4 Pro", kind: .appleUnified,
                      memoryOptionsGB: Sourced([24, 48, 64], AppleSource.m4ProMax),
                      bandwidthGBps: Sourced(273, AppleSource.m4ProMax)),
        DeviceProfile(name: "m4-max", title: "Apple M4 Max (16-core CPU)", kind: .appleUnified,
                      memoryOptionsGB: Sourced([48, 64, 128], AppleSource.m4ProMax),
                      bandwidthGBps: Sourced(546, AppleSource.m4ProMax)),
        DeviceProfile(name: "m5", title: "Apple M5", kind: .appleUnified,
                      memoryOptionsGB: Sourced([16, 24, 32], AppleSource.m5),
                      bandwidthGBps: Sourced(153, AppleSource.m5)),
        DeviceProfile(name: "m5-max", title: "Apple M5 Max (projected)", kind: .appleUnified,
                      memoryOptionsGB: Sourced([36, 48, 64, 128], AppleSource.m5Max),
                      bandwidthGBps: Sourced(614, AppleSource.m5Max), projected: true),
        DeviceProfile(name: "pc-ddr4", title: "Desktop PC, dual-channel DDR4-3200", kind: .systemRAM,
                      memoryOptionsGB: Sourced([16, 32, 64], "common configurations (2 DIMMs of 8, 16 or 32GB)"),
                      bandwidthGBps: Sourced(51.2, PCSource.ddr4)),
        DeviceProfile(name: "pc-ddr5", title: "Desktop PC, dual-channel DDR5-5600", kind: .systemRAM,
                      memoryOptionsGB: Sourced([32, 64, 96], "common configurations (2 DIMMs of 16, 32 or 48GB)"),
                      bandwidthGBps: Sourced(89.6, PCSource.ddr5)),
        DeviceProfile(name: "ryzen-ai-max", title: "AMD Ryzen AI Max+ 395 (Strix Halo)", kind: .systemRAM,
                      memoryOptionsGB: Sourced([32, 64, 128], PCSource.strixHalo),
                      bandwidthGBps: Sourced(256, PCSource.strixHalo)),
        DeviceProfile(name: "rtx-4090", title: "NVIDIA GeForce RTX 4090 (24GB)", kind: .discreteGPU,
                      memoryOptionsGB: Sourced([24], PCSource.rtx4090),
                      bandwidthGBps: Sourced(1008, PCSource.rtx4090)),
        DeviceProfile(name: "raspberry-pi-5", title: "Raspberry Pi 5", kind: .systemRAM,
                      memoryOptionsGB: Sourced([2, 4, 8, 16], PCSource.pi5),
                      bandwidthGBps: Sourced(17.1, PCSource.pi5)),
    ]

    /// The profile named `name` (case-insensitive; `M4 Pro`, `m4pro` and `m4-pro` all match).
    public static func named(_ name: String) -> DeviceProfile? {
        let wanted = normalized(name)
        return all.first { normalized($0.name) == wanted }
    }

    public static var names: [String] { all.map(\.name) }

    private static func normalized(_ name: String) -> String {
        String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}

/// One row of the published estimate of the largest usable model per Apple machine
/// (issue 8's seed table), and the configuration Hearth compares it with.
public struct SeedEstimate: Sendable, Equatable {
    public let year: Int
    public let device: String
    /// The published estimate, in billions of parameters.
    public let publishedBillions: Double
    public let projected: Bool

    /// The seed table; the chips are those it names (2022 is listed as M1 Pro, as published).
    public static let table: [SeedEstimate] = [
        SeedEstimate(year: 2020, device: "m1", publishedBillions: 15, projected: false),
        SeedEstimate(year: 2021, device: "m1-pro", publishedBillions: 17, projected: false),
        SeedEstimate(year: 2022, device: "m1-pro", publishedBillions: 17, projected: false),
        SeedEstimate(year: 2023, device: "m3-pro", publishedBillions: 19, projected: false),
        SeedEstimate(year: 2024, device: "m4-pro", publishedBillions: 25, projected: false),
        SeedEstimate(year: 2025, device: "m5", publishedBillions: 34, projected: false),
        SeedEstimate(year: 2026, device: "m5-max", publishedBillions: 136, projected: true),
    ]
}
