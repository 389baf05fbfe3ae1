import Engine
import Kernels
import Testing

/// The CPU check before a model loads: the flags this build's kernels need, read from a
/// /proc/cpuinfo text.
@Suite struct KernelCheckTests {
    @Test func missingFlagsAreNamed() {
        let required = KernelVariant.requiredCPUFlags
        let all = "processor\t: 0\nvendor_id\t: X\nflags\t\t: fpu sse2 " + required.joined(separator: " ") + "\n\nprocessor\t: 1\n"
        #expect(KernelCheck.missingCPUFlags(cpuinfo: all) == [])
        // A CPU with none of them lacks exactly what the build needs (nothing for the plain loops).
        let old = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3\n"
        #expect(KernelCheck.missingCPUFlags(cpuinfo: old) == required)
        // A CPU with only the first lacks the rest.
        if let first = required.first {
            let partial = "flags\t\t: \(first)\n"
            #expect(KernelCheck.missingCPUFlags(cpuinfo: partial) == Array(required.dropFirst()))
        }
        // No text or no flags line (not Linux, or an unreadable file): nothing to report.
        #expect(KernelCheck.missingCPUFlags(cpuinfo: nil) == [])
        #expect(KernelCheck.missingCPUFlags(cpuinfo: "processor\t: 0\n") == [])
    }

    @Test func thisMachineRunsThisBuild() throws {
        try KernelCheck.requireSupportedCPU()
    }

    @Test func theErrorSaysWhatToDo() {
        let message = EngineError.unsupportedCPU(kernels: "avx2", missing: ["avx2", "fma"]).description
        #expect(message.contains("avx2, fma"))
        #expect(message.contains("HEARTH_PORTABLE_KERNELS=1"))
    }
}
