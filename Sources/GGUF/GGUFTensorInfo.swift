/// One entry of the tensor table: a tensor's name, shape, type and where its data lies.
///
/// `dimensions` are in ggml order: `dimensions[0]` (ne0) is the contiguous row length, so a
/// weight matrix with `n_embd` inputs and `n_vocab` rows is `[n_embd, n_vocab]`.
/// All fields were checked when the file was opened: 1...4 dimensions, each > 0, ne0 a
/// multiple of the type's block size, sizes free of overflow, data aligned and inside the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Elements along each axis, innermost (contiguous) first.
    public let dimensions: [Int]
    public let type: GGUFTensorType
    /// Where the data starts, relative to the data section (``GGUFFile/dataOffset``).
    public let offset: Int
    /// The product of the dimensions.
    public let elementCount: Int
    /// Bytes of data: `elementCount / type.blockSize * type.bytesPerBlock`.
    public let byteCount: Int
    /// Where the data starts in the file: `dataOffset + offset`.
    public let fileOffset: Int

    /// Rows: the product of all dimensions but the first.
    public var rowCount: Int { elementCount / dimensions[0] }

    /// Bytes one row (`dimensions[0]` elements) occupies.
    public var bytesPerRow: Int { dimensions[0] / type.blockSize * type.bytesPerBlock }

    init(
        name: String, dimensions: [Int], type: GGUFTensorType, offset: Int,
        elementCount: Int, byteCount: Int, fileOffset: Int
    ) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.elementCount = elementCount
        self.byteCount = byteCount
        self.fileOffset = fileOffset
    }
}
