import Kernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Checks that the CPU running this binary has the instructions its kernels were compiled for.
/// Lives here, not in Kernels: that module is compiled for the build machine's CPU, so code in it
/// could itself use the instructions whose absence it is meant to report.
public enum KernelCheck {
    /// The flags of `KernelVariant.requiredCPUFlags` that `cpuinfo` (/proc/cpuinfo's text) lacks:
    /// empty when it has them all, or when there is no flags line to read (only Linux builds
    /// choose kernels by CPU flags).
    public static func missingCPUFlags(cpuinfo: String?) -> [String] {
        guard let cpuinfo, !KernelVariant.requiredCPUFlags.isEmpty,
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let list = line.split(separator: ":", maxSplits: 1).dropFirst().first
        else { return [] }
        let flags = Set(list.split(separator: " ").map(String.init))
        return KernelVariant.requiredCPUFlags.filter { !flags.contains($0) }
    }

    /// Throws `EngineError.unsupportedCPU` when this CPU lacks an instruction set the kernels use.
    public static func requireSupportedCPU() throws {
        let missing = missingCPUFlags(cpuinfo: readCPUInfo())
        guard missing.isEmpty else { throw EngineError.unsupportedCPU(kernels: KernelVariant.name, missing: missing) }
    }

    /// The first 64 KB of /proc/cpuinfo (the first processor's block holds the flags line), or nil
    /// where there is none.
    static func readCPUInfo() -> String? {
        #if os(Linux)
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
        #else
        return nil
        #endif
    }
}
