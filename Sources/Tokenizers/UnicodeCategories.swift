/// The Unicode classes the pre-tokenizers test, one bit each, mirroring llama.cpp's
/// `unicode_cpt_flags`: a general-category group per code point plus llama.cpp's whitespace set.
struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt16
    /// Unassigned (`Cn`) or beyond U+10FFFF.
    static let undefined = CodepointFlags(rawValue: 1 << 0)
    /// `\p{N}`: Nd, Nl, No.
    static let number = CodepointFlags(rawValue: 1 << 1)
    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    static let letter = CodepointFlags(rawValue: 1 << 2)
    /// `\p{Z}`: Zs, Zl, Zp.
    static let separator = CodepointFlags(rawValue: 1 << 3)
    /// `\p{M}`: Mn, Mc, Me.
    static let mark = CodepointFlags(rawValue: 1 << 4)
    /// `\p{P}`: Pc, Pd, Ps, Pe, Pi, Pf, Po.
    static let punctuation = CodepointFlags(rawValue: 1 << 5)
    /// `\p{S}`: Sm, Sc, Sk, So.
    static let symbol = CodepointFlags(rawValue: 1 << 6)
    /// `\p{C}` apart from unassigned: Cc, Cf, Cs, Co.
    static let control = CodepointFlags(rawValue: 1 << 7)
    /// `\s` as llama.cpp defines it (see ``isWhitespace(_:)``).
    static let whitespace = CodepointFlags(rawValue: 1 << 8)

    /// The category bits, without `whitespace`.
    static let categories: CodepointFlags = [
        .undefined, .number, .letter, .separator, .mark, .punctuation, .symbol, .control,
    ]

    var isLetter: Bool { contains(.letter) }
    var isNumber: Bool { contains(.number) }
    var isWhitespace: Bool { contains(.whitespace) }
    var isMark: Bool { contains(.mark) }
    var isPunctuation: Bool { contains(.punctuation) }
    /// llama.cpp's `as_uint() != 0`: every real code point has some flag (at least `undefined`);
    /// only "outside the piece being split" has none.
    var isInside: Bool { rawValue != 0 }

    /// Flags of a code point. Categories follow Unicode 15.1 — the Unicode Character Database
    /// llama.cpp's tables were generated from — so that code points assigned in later versions
    /// (which Swift's runtime knows) stay "undefined" exactly as they are in llama.cpp.
    @inline(__always)
    static func of(_ codepoint: UInt32) -> CodepointFlags {
        if codepoint < 0x10000 {
            return CodepointFlags(rawValue: basicPlaneFlags[Int(codepoint)])
        }
        return computeFlags(codepoint)
    }

    /// llama.cpp's whitespace set (`unicode_set_whitespace`): the White_Space property minus U+180E.
    /// Note that U+001C…U+001F (which Python's `str.isspace` accepts) are not in it.
    static func isWhitespace(_ codepoint: UInt32) -> Bool {
        switch codepoint {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    static func computeFlags(_ codepoint: UInt32) -> CodepointFlags {
        var flags = category(codepoint)
        if isWhitespace(codepoint) { flags.insert(.whitespace) }
        return flags
    }

    private static func category(_ codepoint: UInt32) -> CodepointFlags {
        if (0xD800...0xDFFF).contains(codepoint) { return .control }  // surrogates (Cs)
        guard let scalar = Unicode.Scalar(codepoint) else { return .undefined }
        let properties = scalar.properties
        guard let age = properties.age, age.major < 15 || (age.major == 15 && age.minor <= 1) else {
            return .undefined
        }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return .separator
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return .mark
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return .symbol
        case .control, .format, .surrogate, .privateUse:
            return .control
        case .unassigned:
            return .undefined
        @unknown default:
            return .undefined
        }
    }
}

/// Flags of the basic multilingual plane, computed once (64 K lookups, a few milliseconds) because
/// almost all text lives there and the pre-tokenizers look every code point up.
private let basicPlaneFlags: [UInt16] = (0..<0x10000).map { CodepointFlags.computeFlags(UInt32($0)).rawValue }

/// UTF-8 handling with llama.cpp's exact leniency, so invalid input tokenizes as it does there.
enum UTF8Codec {
    static let replacementCharacter: UInt32 = 0xFFFD

    /// Length of the UTF-8 sequence a byte starts, judged by its high nibble only
    /// (llama.cpp's `unicode_len_utf8`): continuation bytes count as length 1.
    @inline(__always)
    static func sequenceLength(leadByte: UInt8) -> Int {
        switch leadByte >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// Decodes like llama.cpp's `unicode_cpts_from_utf8`: overlong forms and surrogates are
    /// accepted as they decode; a byte that cannot start a complete sequence becomes one U+FFFD and
    /// decoding resumes at the next byte. (Values past U+10FFFF, which llama.cpp would later fail to
    /// re-encode, also become U+FFFD.)
    static func decodeLeniently(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(bytes.count)
        var offset = 0
        let count = bytes.count
        @inline(__always) func isContinuation(_ index: Int) -> Bool { bytes[index] & 0xC0 == 0x80 }
        while offset < count {
            let lead = bytes[offset]
            if lead & 0x80 == 0 {
                result.append(UInt32(lead))
                offset += 1
            } else if lead & 0x40 == 0 {
                result.append(replacementCharacter)
                offset += 1
            } else if lead & 0x20 == 0 {
                if offset + 1 >= count || !isContinuation(offset + 1) {
                    result.append(replacementCharacter)
                    offset += 1
                } else {
                    result.append(UInt32(lead & 0x1F) << 6 | UInt32(bytes[offset + 1] & 0x3F))
                    offset += 2
                }
            } else if lead & 0x10 == 0 {
                if offset + 2 >= count || !isContinuation(offset + 1) || !isContinuation(offset + 2) {
                    result.append(replacementCharacter)
                    offset += 1
                } else {
                    result.append(
                        UInt32(lead & 0x0F) << 12 | UInt32(bytes[offset + 1] & 0x3F) << 6
                            | UInt32(bytes[offset + 2] & 0x3F))
                    offset += 3
                }
            } else if lead & 0x08 == 0 {
                if offset + 3 >= count || !isContinuation(offset + 1) || !isContinuation(offset + 2)
                    || !isContinuation(offset + 3)
                {
                    result.append(replacementCharacter)
                    offset += 1
                } else {
                    let value =
                        UInt32(lead & 0x07) << 18 | UInt32(bytes[offset + 1] & 0x3F) << 12
                        | UInt32(bytes[offset + 2] & 0x3F) << 6 | UInt32(bytes[offset + 3] & 0x3F)
                    result.append(value <= 0x10FFFF ? value : replacementCharacter)
                    offset += 4
                }
            } else {
                result.append(replacementCharacter)
                offset += 1
            }
        }
        return result
    }

    /// Encodes without validating (surrogates are written as three bytes, as llama.cpp does).
    @inline(__always)
    static func append(_ codepoint: UInt32, to bytes: inout [UInt8]) {
        switch codepoint {
        case 0..<0x80:
            bytes.append(UInt8(codepoint))
        case 0x80..<0x800:
            bytes.append(0xC0 | UInt8(codepoint >> 6))
            bytes.append(0x80 | UInt8(codepoint & 0x3F))
        case 0x800..<0x10000:
            bytes.append(0xE0 | UInt8(codepoint >> 12))
            bytes.append(0x80 | UInt8((codepoint >> 6) & 0x3F))
            bytes.append(0x80 | UInt8(codepoint & 0x3F))
        default:
            bytes.append(0xF0 | UInt8((codepoint >> 18) & 0x07))
            bytes.append(0x80 | UInt8((codepoint >> 12) & 0x3F))
            bytes.append(0x80 | UInt8((codepoint >> 6) & 0x3F))
            bytes.append(0x80 | UInt8(codepoint & 0x3F))
        }
    }

    /// C's `isspace` in the "C" locale, which llama.cpp uses to strip around special tokens.
    @inline(__always)
    static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}
