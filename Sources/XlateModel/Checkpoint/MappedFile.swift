import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory mapping of a whole file, unmapped when released; or bytes made in memory from a file.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    /// The bytes were allocated, not mapped: deallocate them.
    private var owned = false

    /// Takes ownership of `bytes` (allocated), made from the file at `path`, which errors name.
    init(path: String, taking bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
        owned = true
    }

    init(path: String) throws(ModelError) {
        self.path = path
        // Mapped, not read: no size limit; the safetensors header is checked against the size instead.
        let (fd, size) = try ModelFile.open(path, hint: "")
        defer { close(fd) }
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Gives back the memory of the mapped pages that hold `range` (byte offsets): a tensor already converted into
    /// the model's own storage. The file stays mapped (a later read faults the pages in again), but the process no
    /// longer counts the pages of every tensor read so far, which keeps the load's peak memory near the model's.
    func evict(_ range: Range<Int>) {
        guard !owned, let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = Swift.min((range.upperBound + page - 1) / page * page, bytes.count)
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        if owned {
            bytes.deallocate()
        } else if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
