// The formats by ggml type id: what the model loader looks tensor types up in. Kept apart from
// the kernels so that they compile without existential metatypes (scripts/check-arm-assembly
// builds them for AArch64 as Embedded Swift).

/// Every block format this module implements, weight and activation formats alike.
public let allBlockFormats: [any BlockFormat.Type] = [
    F32.self, F16.self, BF16.self,
    Q4_0.self, Q4_1.self, Q5_0.self, Q5_1.self, Q8_0.self, Q8_1.self,
    Q2_K.self, Q3_K.self, Q4_K.self, Q5_K.self, Q6_K.self, Q8_K.self,
    IQ4_NL.self, IQ4_XS.self, MXFP4.self,
]

/// The block format with ggml type id `ggmlType`, or nil if this module does not implement it.
///
/// ```swift
/// blockFormat(ggmlType: 12)?.name // "Q4_K"
/// ```
public func blockFormat(ggmlType: UInt32) -> (any BlockFormat.Type)? {
    allBlockFormats.first { $0.ggmlType == ggmlType }
}

/// The weight format with ggml type id `ggmlType`, or nil if it is unknown or activation-only
/// (Q8_1 and Q8_K only ever hold quantised activations).
public func quantFormat(ggmlType: UInt32) -> (any QuantFormat.Type)? {
    blockFormat(ggmlType: ggmlType) as? any QuantFormat.Type
}
