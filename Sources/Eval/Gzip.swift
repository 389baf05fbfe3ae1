import Foundation
import ZIPFoundation

/// Reading a gzip file (RFC 1952): a header, a raw deflate stream, and a trailer holding the
/// CRC-32 and length of what it inflates to — both checked, so a damaged file is named rather
/// than read as fewer problems.
enum Gzip {
    struct FormatError: Error, CustomStringConvertible {
        let description: String
    }

    /// The inflated bytes of `data`; at most `maximumSize` of them.
    static func decompress(_ data: Data, maximumSize: Int = 256 << 20) throws -> Data {
        let bytes = [UInt8](data)
        guard bytes.count >= 18, bytes[0] == 0x1F, bytes[1] == 0x8B else { throw FormatError(description: "not a gzip file") }
        guard bytes[2] == 8 else { throw FormatError(description: "gzip compression method \(bytes[2]) is not deflate") }
        let flags = bytes[3]
        guard flags & 0xE0 == 0 else { throw FormatError(description: "gzip header has reserved flags set") }
        var offset = 10
        func need(_ count: Int) throws {
            guard offset + count <= bytes.count - 8 else { throw FormatError(description: "gzip header runs past the end of the file") }
        }
        if flags & 0x04 != 0 {  // FEXTRA
            try need(2)
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            offset += 2
            try need(length)
            offset += length
        }
        for flag in [UInt8(0x08), 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            while true {
                try need(1)
                offset += 1
                if bytes[offset - 1] == 0 { break }
            }
        }
        if flags & 0x02 != 0 {  // FHCRC
            try need(2)
            offset += 2
        }
        let trailer = bytes.count - 8
        let expectedCRC = UInt32(bytes[trailer]) | UInt32(bytes[trailer + 1]) << 8 | UInt32(bytes[trailer + 2]) << 16
            | UInt32(bytes[trailer + 3]) << 24
        let expectedSize = UInt32(bytes[trailer + 4]) | UInt32(bytes[trailer + 5]) << 8 | UInt32(bytes[trailer + 6]) << 16
            | UInt32(bytes[trailer + 7]) << 24
        let stream = data.subdata(in: data.startIndex + offset..<data.startIndex + trailer)
        var output = Data()
        let checksum: CRC32
        do {
            // ZIPFoundation's zlib path may ask for more than is left and tells zlib a chunk is
            // always `size` long: chunks are padded with zeros to that size (zlib stops at the
            // stream's end marker), and a stream without one ends the read rather than loop.
            checksum = try Data.decompress(size: Int64(stream.count), bufferSize: 1 << 16, skipCRC32: false, provider: { position, size in
                let start = Int(position)
                guard start < stream.count else { throw FormatError(description: "gzip content is truncated (no end of its deflate stream)") }
                var chunk = stream.subdata(in: stream.startIndex + start..<stream.startIndex + min(stream.count, start + size))
                if chunk.count < size { chunk.append(Data(count: size - chunk.count)) }
                return chunk
            }, consumer: { chunk in
                guard output.count + chunk.count <= maximumSize else {
                    throw FormatError(description: "gzip content is larger than \(maximumSize) bytes")
                }
                output.append(chunk)
            })
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError(description: "gzip content does not inflate: \(error)")
        }
        guard checksum == expectedCRC, UInt32(truncatingIfNeeded: output.count) == expectedSize else {
            throw FormatError(description: "gzip content is corrupt (CRC-32 or length does not match the trailer)")
        }
        return output
    }
}
