/// The storage format of a tensor's elements (ggml's `ggml_type`).
///
/// Quantised formats store elements in blocks: `blockSize` elements packed into `bytesPerBlock`
/// bytes. A tensor's first dimension must be a whole number of blocks. The numbers mirror ggml's
/// type traits (`ggml/src/ggml.c`, block structs in `ggml/src/ggml-common.h`); codes 4, 5 and
/// 31...33, 36...38 were removed from ggml and are rejected as unknown.
///
/// ```swift
/// GGUFTensorType.q4_K.name           // "Q4_K"
/// GGUFTensorType.q4_K.blockSize      // 256
/// GGUFTensorType.q4_K.bytesPerBlock  // 144
/// ```
public enum GGUFTensorType: UInt32, Sendable, CaseIterable, Codable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39
    case nvfp4 = 40
    case q1_0 = 41
    case q2_0 = 42

    /// The conventional upper-case name, e.g. `"Q4_K"`, `"IQ2_XXS"`, `"BF16"`.
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_xxs: "IQ2_XXS"
        case .iq2_xs: "IQ2_XS"
        case .iq3_xxs: "IQ3_XXS"
        case .iq1_s: "IQ1_S"
        case .iq4_nl: "IQ4_NL"
        case .iq3_s: "IQ3_S"
        case .iq2_s: "IQ2_S"
        case .iq4_xs: "IQ4_XS"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .f64: "F64"
        case .iq1_m: "IQ1_M"
        case .bf16: "BF16"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        case .mxfp4: "MXFP4"
        case .nvfp4: "NVFP4"
        case .q1_0: "Q1_0"
        case .q2_0: "Q2_0"
        }
    }

    /// Elements per block (1 for plain scalar types).
    public var blockSize: Int { layout.blockSize }

    /// Bytes one block occupies in the file.
    public var bytesPerBlock: Int { layout.bytesPerBlock }

    /// True for block-quantised formats (everything except plain floats and integers).
    public var isQuantized: Bool { blockSize > 1 }

    /// The type with this name (`"Q4_K"`, case-insensitive), if any.
    public init?(name: String) {
        let wanted = name.uppercased()
        guard let match = Self.allCases.first(where: { $0.name == wanted }) else { return nil }
        self = match
    }

    // The super-block size of the k-quants and i-quants (ggml's QK_K).
    private static let superBlock = 256

    private var layout: (blockSize: Int, bytesPerBlock: Int) {
        let qk = Self.superBlock
        switch self {
        case .f32: return (1, 4)
        case .f16: return (1, 2)
        case .q4_0: return (32, 2 + 16)
        case .q4_1: return (32, 2 + 2 + 16)
        case .q5_0: return (32, 2 + 4 + 16)
        case .q5_1: return (32, 2 + 2 + 4 + 16)
        case .q8_0: return (32, 2 + 32)
        case .q8_1: return (32, 2 + 2 + 32)
        case .q2_K: return (qk, 2 + 2 + qk / 16 + qk / 4)
        case .q3_K: return (qk, 2 + qk / 4 + qk / 8 + 12)
        case .q4_K: return (qk, 2 + 2 + 12 + qk / 2)
        case .q5_K: return (qk, 2 + 2 + 12 + qk / 2 + qk / 8)
        case .q6_K: return (qk, 2 + qk / 16 + 3 * qk / 4)
        case .q8_K: return (qk, 4 + qk + qk / 16 * 2)
        case .iq2_xxs: return (qk, 2 + qk / 8 * 2)
        case .iq2_xs: return (qk, 2 + qk / 8 * 2 + qk / 32)
        case .iq3_xxs: return (qk, 2 + 3 * (qk / 8))
        case .iq1_s: return (qk, 2 + qk / 8 + qk / 16)
        case .iq4_nl: return (32, 2 + 16)
        case .iq3_s: return (qk, 2 + 13 * (qk / 32) + qk / 64)
        case .iq2_s: return (qk, 2 + qk / 4 + qk / 16)
        case .iq4_xs: return (qk, 2 + 2 + qk / 64 + qk / 2)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64: return (1, 8)
        case .f64: return (1, 8)
        case .iq1_m: return (qk, qk / 8 + qk / 16 + qk / 32)
        case .bf16: return (1, 2)
        case .tq1_0: return (qk, 2 + qk / 64 + (qk - 4 * qk / 64) / 5)
        case .tq2_0: return (qk, 2 + qk / 4)
        case .mxfp4: return (32, 1 + 16)
        case .nvfp4: return (64, 64 / 16 + 64 / 2)
        case .q1_0: return (128, 2 + 128 / 8)
        case .q2_0: return (64, 2 + 64 / 4)
        }
    }
}

/// The overall quantisation of a model file (`general.file_type`, llama.cpp's `llama_ftype`).
///
/// Only used for display: the tensor types are what the loader actually follows.
///
/// ```swift
/// GGUFFileType(rawValue: 15)?.name         // "Q4_K_M"
/// GGUFFileType(rawValue: 15)?.description  // "Q4_K - Medium"
/// ```
public enum GGUFFileType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case allF32 = 0
    case mostlyF16 = 1
    case mostlyQ4_0 = 2
    case mostlyQ4_1 = 3
    case mostlyQ8_0 = 7
    case mostlyQ5_0 = 8
    case mostlyQ5_1 = 9
    case mostlyQ2_K = 10
    case mostlyQ3_K_S = 11
    case mostlyQ3_K_M = 12
    case mostlyQ3_K_L = 13
    case mostlyQ4_K_S = 14
    case mostlyQ4_K_M = 15
    case mostlyQ5_K_S = 16
    case mostlyQ5_K_M = 17
    case mostlyQ6_K = 18
    case mostlyIQ2_XXS = 19
    case mostlyIQ2_XS = 20
    case mostlyQ2_K_S = 21
    case mostlyIQ3_XS = 22
    case mostlyIQ3_XXS = 23
    case mostlyIQ1_S = 24
    case mostlyIQ4_NL = 25
    case mostlyIQ3_S = 26
    case mostlyIQ3_M = 27
    case mostlyIQ2_S = 28
    case mostlyIQ2_M = 29
    case mostlyIQ4_XS = 30
    case mostlyIQ1_M = 31
    case mostlyBF16 = 32
    case mostlyTQ1_0 = 36
    case mostlyTQ2_0 = 37
    case mostlyMXFP4_MoE = 38
    case mostlyNVFP4 = 39
    case mostlyQ1_0 = 40
    case mostlyQ2_0 = 41

    /// Short name as model hubs and Ollama print it, e.g. `"Q4_K_M"`.
    public var name: String { names.short }

    /// llama.cpp's descriptive name (`llama_ftype_name`), e.g. `"Q4_K - Medium"`.
    public var description: String { names.long }

    private var names: (short: String, long: String) {
        switch self {
        case .allF32: ("F32", "all F32")
        case .mostlyF16: ("F16", "F16")
        case .mostlyQ4_0: ("Q4_0", "Q4_0")
        case .mostlyQ4_1: ("Q4_1", "Q4_1")
        case .mostlyQ8_0: ("Q8_0", "Q8_0")
        case .mostlyQ5_0: ("Q5_0", "Q5_0")
        case .mostlyQ5_1: ("Q5_1", "Q5_1")
        case .mostlyQ2_K: ("Q2_K", "Q2_K - Medium")
        case .mostlyQ3_K_S: ("Q3_K_S", "Q3_K - Small")
        case .mostlyQ3_K_M: ("Q3_K_M", "Q3_K - Medium")
        case .mostlyQ3_K_L: ("Q3_K_L", "Q3_K - Large")
        case .mostlyQ4_K_S: ("Q4_K_S", "Q4_K - Small")
        case .mostlyQ4_K_M: ("Q4_K_M", "Q4_K - Medium")
        case .mostlyQ5_K_S: ("Q5_K_S", "Q5_K - Small")
        case .mostlyQ5_K_M: ("Q5_K_M", "Q5_K - Medium")
        case .mostlyQ6_K: ("Q6_K", "Q6_K")
        case .mostlyIQ2_XXS: ("IQ2_XXS", "IQ2_XXS - 2.0625 bpw")
        case .mostlyIQ2_XS: ("IQ2_XS", "IQ2_XS - 2.3125 bpw")
        case .mostlyQ2_K_S: ("Q2_K_S", "Q2_K - Small")
        case .mostlyIQ3_XS: ("IQ3_XS", "IQ3_XS - 3.3 bpw")
        case .mostlyIQ3_XXS: ("IQ3_XXS", "IQ3_XXS - 3.0625 bpw")
        case .mostlyIQ1_S: ("IQ1_S", "IQ1_S - 1.5625 bpw")
        case .mostlyIQ4_NL: ("IQ4_NL", "IQ4_NL - 4.5 bpw")
        case .mostlyIQ3_S: ("IQ3_S", "IQ3_S - 3.4375 bpw")
        case .mostlyIQ3_M: ("IQ3_M", "IQ3_S mix - 3.66 bpw")
        case .mostlyIQ2_S: ("IQ2_S", "IQ2_S - 2.5 bpw")
        case .mostlyIQ2_M: ("IQ2_M", "IQ2_M - 2.7 bpw")
        case .mostlyIQ4_XS: ("IQ4_XS", "IQ4_XS - 4.25 bpw")
        case .mostlyIQ1_M: ("IQ1_M", "IQ1_M - 1.75 bpw")
        case .mostlyBF16: ("BF16", "BF16")
        case .mostlyTQ1_0: ("TQ1_0", "TQ1_0 - 1.69 bpw ternary")
        case .mostlyTQ2_0: ("TQ2_0", "TQ2_0 - 2.06 bpw ternary")
        case .mostlyMXFP4_MoE: ("MXFP4_MOE", "MXFP4 MoE")
        case .mostlyNVFP4: ("NVFP4", "NVFP4")
        case .mostlyQ1_0: ("Q1_0", "Q1_0")
        case .mostlyQ2_0: ("Q2_0", "Q2_0")
        }
    }
}
