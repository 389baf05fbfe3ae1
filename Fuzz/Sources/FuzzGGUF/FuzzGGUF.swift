import Foundation
import GGUF

/// Any bytes as a GGUF file: opening answers a `GGUFFile` or a `GGUFError`, never crashes; every
/// tensor of a file that opens lies inside the mapping (the address sanitizer checks the reads).
func fuzzGGUF(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let path = scratchFile
    guard let handle = FileHandle(forWritingAtPath: path) else { fatalError("cannot write \(path)") }
    handle.truncateFile(atOffset: 0)
    handle.write(Data(bytes: start, count: count))
    handle.closeFile()
    guard let file = try? GGUFFile(path: path) else { return 0 }
    _ = GGUFSummary(file)
    var checksum: UInt8 = 0
    for tensor in file.tensors {
        let data = file.data(for: tensor)
        guard let first = data.first, let last = data.last else { continue }
        checksum &+= first &+ last
    }
    for key in file.metadataKeys {
        _ = try? file.string(key)
        _ = try? file.int(key)
        _ = try? file.array(key)
    }
    return CInt(checksum & 0)
}

/// One file per process, rewritten for each input (the reader maps a path, as the store does).
let scratchFile: String = {
    let path = NSTemporaryDirectory() + "hearth-fuzz-gguf-\(ProcessInfo.processInfo.processIdentifier).gguf"
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    atexit { unlink(NSTemporaryDirectory() + "hearth-fuzz-gguf-\(ProcessInfo.processInfo.processIdentifier).gguf") }
    return path
}()
