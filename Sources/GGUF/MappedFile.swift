#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory, unmapped when the last reference goes away.
///
/// Private mapping: pages are shared with the page cache (weights are never copied), and nothing
/// written through other mappings' copy-on-write could reach us. If another process truncates
/// the file while it is mapped, touching the lost pages raises SIGBUS; that is inherent to mmap.
final class MappedFile: @unchecked Sendable {  // immutable after init; the memory is read-only
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(GGUFError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Self.ioError("cannot open", path: path)
        }
        // The mapping keeps the file alive on its own, so the descriptor can go right away.
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw Self.ioError("cannot stat", path: path)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(.io, "'\(path)' is not a regular file", path: path)
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            // mmap refuses empty lengths; an empty file is simply zero bytes to parse.
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw Self.ioError("cannot memory-map", path: path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    private static func ioError(_ action: String, path: String) -> GGUFError {
        let reason = String(cString: strerror(errno))
        return GGUFError(.io, "\(action) '\(path)': \(reason)", path: path)
    }
}
