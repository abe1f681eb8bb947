#if canImport(Glibc)
import Glibc
#endif

/// Float storage reserved from the kernel (anonymous `mmap`) rather than the heap: a page costs memory only once
/// something is written to it, and pages can be given back. For decoder caches sized for the longest target but
/// filled one position at a time, and emptied row by row as sentences finish.
public final class ReservedFloats: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let byteCount: Int

    /// Reserves `count` floats, all zero; no memory is used until written. Throws `cannotReserve` when the kernel
    /// refuses the address space (an address-space limit such as `ulimit -v` counts reserved pages, used or not).
    public init(count: Int) throws(XlateCoreError) {
        self.count = count
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow else { throw .cannotReserve(bytes: .max, reason: "\(count) floats is more than memory can address") }
        byteCount = bytes
        let raw = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            throw .cannotReserve(bytes: byteCount, reason: String(cString: strerror(errno)))
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { munmap(pointer, byteCount) }

    /// Gives back the memory of floats `offset...` (whole pages only); they read as zero afterwards.
    public func release(from offset: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset * MemoryLayout<Float>.stride + page - 1) / page * page
        guard start < byteCount else { return }
        madvise(UnsafeMutableRawPointer(pointer) + start, byteCount - start, MADV_DONTNEED)
    }
}
