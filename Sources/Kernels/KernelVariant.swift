// Which kernel forms this build compiled, and whether the CPU running it has their instructions.
//
// Release builds choose their kernels when they are compiled (Package.swift reads the build
// machine's CPU flags: AVX-512 VNNI, else AVX2, else the plain loops every other machine builds),
// because Swift compiles a module for one instruction set. The engine checks the choice against
// the running CPU before loading a model (`KernelCheck`), so a binary copied to a CPU without
// those instructions stops with a message naming them instead of dying on an illegal instruction.

public enum KernelVariant {
    /// Short name of the kernels this build runs: "avx512-vnni", "avx2" or "portable".
    public static var name: String {
        #if HEARTH_AVX512_VNNI
        "avx512-vnni"
        #elseif HEARTH_AVX2
        "avx2"
        #else
        "portable"
        #endif
    }

    /// What the kernels of `name` are, for `hearth bench`.
    public static var summary: String {
        #if HEARTH_AVX512_VNNI
        "AVX-512 VNNI dots and panels for every quantised format, in llama.cpp's x86 float order"
        #elseif HEARTH_AVX2
        "AVX2 integer sums (Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) and 2x4 int16 tiles; plain loops elsewhere"
        #else
        "plain loops, vectorised by the compiler for the build target"
        #endif
    }

    /// The CPU flags (as /proc/cpuinfo names them) that the kernels of `name` use.
    public static var requiredCPUFlags: [String] {
        #if HEARTH_AVX512_VNNI
        ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"]
        #elseif HEARTH_AVX2
        ["avx2", "fma", "f16c"]
        #else
        []
        #endif
    }
}
