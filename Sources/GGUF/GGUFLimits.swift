/// The sanity limits the reader enforces, and why each exists.
///
/// Every count and length in a GGUF file is checked against the bytes actually left in the file
/// before anything is allocated; these limits additionally reject values no real model needs, so
/// a corrupt file fails with a clear message instead of a huge allocation or a slow scan.
public enum GGUFLimits {
    /// The GGUF spec caps keys at 2^16 - 1 bytes.
    public static let maxKeyLength = 65_535

    /// ggml stores tensor names in a 64-byte buffer including the terminating NUL
    /// (`GGML_MAX_NAME`); llama.cpp refuses longer names, so no usable model has one.
    public static let maxTensorNameLength = 63

    /// Chat templates, the largest string values in practice, are tens of kilobytes.
    public static let maxStringLength = 256 << 20

    /// Vocabularies, the largest arrays in practice, have about 10^5...10^6 entries.
    public static let maxArrayCount = 1 << 28

    /// Real files nest arrays at most one level deep; a bound keeps recursion shallow.
    public static let maxArrayDepth = 8

    /// ggml tensors have at most four dimensions (`GGML_MAX_DIMS`).
    public static let maxDimensions = 4

    /// Used when `general.alignment` is absent (`GGUF_DEFAULT_ALIGNMENT`).
    public static let defaultAlignment = 32

    /// `general.alignment` must be a power of two in this range: 1 MiB is far beyond any page or
    /// SIMD alignment a writer would ask for.
    public static let alignmentRange = 1...(1 << 20)

    /// Bytes of the fixed header: magic, version, tensor count, key-value count.
    public static let headerSize = 4 + 4 + 8 + 8

    /// The fewest bytes one key-value pair can take: key length (8), type (4), a 1-byte value.
    public static let minimumKeyValueSize = 8 + 4 + 1

    /// The fewest bytes one tensor info can take: name length (8), dimension count (4),
    /// one dimension (8), type (4), offset (8).
    public static let minimumTensorInfoSize = 8 + 4 + 8 + 4 + 8
}
