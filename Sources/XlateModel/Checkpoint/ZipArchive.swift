/// The entries of a zip archive held in memory: the container `torch.save` writes.
///
/// Entries are found through the central directory, its ZIP64 records included (torch writes them for every file;
/// sizes and offsets over 4 GiB live only there). Every offset and size is checked against the archive before use,
/// so a truncated or lying file is an error, never a read out of bounds. Only stored (uncompressed) entries can be
/// read; `torch.save` never compresses. Format: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
struct ZipArchive {
    struct Entry {
        let name: String
        /// Where the entry's bytes lie in the archive.
        let range: Range<Int>
        /// 0: stored; anything else is compressed.
        let method: UInt16
        /// 0 when the writer did not compute it (`torch.save` with `compute_crc32` off writes 0).
        let crc32: UInt32
    }

    let path: String
    /// In central-directory order.
    let entries: [Entry]
    private let index: [String: Int]
    private let bytes: UnsafeRawBufferPointer

    /// Reads the directory of the archive `bytes` (the contents of the file at `path`, which errors name).
    init(bytes: UnsafeRawBufferPointer, path: String) throws(ModelError) {
        self.path = path
        self.bytes = bytes
        func damaged(_ reason: String) -> ModelError { .pytorchCheckpoint(path: path, reason: reason) }
        let size = bytes.count

        // The end record: 22 bytes and a comment of up to 65535 bytes, at the very end of the file.
        guard size >= 22 else { throw damaged("the file is \(size) bytes, too short for a zip archive (truncated?)") }
        var end = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while end >= lowest, bytes.u32(end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest else {
            throw damaged("no zip end-of-central-directory record at the end of the \(size)-byte file (truncated?)")
        }
        guard bytes.u16(end + 4) == 0, bytes.u16(end + 6) == 0 else { throw damaged("multi-part zip archives are not supported") }
        var count = Int(bytes.u16(end + 10))
        var directorySize = Int(bytes.u32(end + 12))
        var directoryOffset = Int(bytes.u32(end + 16))
        var directoryLimit = end
        // ZIP64: a 20-byte locator right before the end record points to the ZIP64 end record, whose 64-bit fields win.
        if end >= 20, bytes.u32(end - 20) == 0x0706_4B50 {
            let locator = end - 20
            let record = Int(clamping: bytes.u64(locator + 8))
            guard record <= locator - 56, bytes.u32(record) == 0x0606_4B50 else {
                throw damaged("the ZIP64 end record is not at offset \(record), where its locator points (truncated?)")
            }
            count = Int(clamping: bytes.u64(record + 32))
            directorySize = Int(clamping: bytes.u64(record + 40))
            directoryOffset = Int(clamping: bytes.u64(record + 48))
            directoryLimit = record
        }
        guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
            throw damaged(
                "the central directory (\(directorySize) bytes at offset \(directoryOffset)) lies outside the \(size)-byte file (truncated?)")
        }
        guard count <= directorySize / 46 else {
            throw damaged("the central directory claims \(count) entries in \(directorySize) bytes")
        }

        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var position = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for number in 0..<count {
            guard directoryEnd - position >= 46, bytes.u32(position) == 0x0201_4B50 else {
                throw damaged("central directory entry \(number) at offset \(position) is damaged")
            }
            let flags = bytes.u16(position + 8)
            let method = bytes.u16(position + 10)
            let crc32 = bytes.u32(position + 16)
            var compressedSize = Int(bytes.u32(position + 20))
            var uncompressedSize = Int(bytes.u32(position + 24))
            let nameLength = Int(bytes.u16(position + 28))
            let extraLength = Int(bytes.u16(position + 30))
            let commentLength = Int(bytes.u16(position + 32))
            var localOffset = Int(bytes.u32(position + 42))
            let nameStart = position + 46
            guard nameLength + extraLength + commentLength <= directoryEnd - nameStart else {
                throw damaged("central directory entry \(number) runs past the end of the directory")
            }
            guard let name = String(validating: bytes[nameStart..<nameStart + nameLength], as: UTF8.self) else {
                throw damaged("central directory entry \(number) has a name that is not UTF-8")
            }
            // ZIP64 extra field (id 1): the 64-bit values of the fields stored as 0xFFFFFFFF, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extraEnd - extra >= 4 {
                let id = bytes.u16(extra), length = Int(bytes.u16(extra + 2))
                let fieldStart = extra + 4
                guard length <= extraEnd - fieldStart else { throw damaged("entry '\(name)' has a damaged extra field") }
                if id == 1 {
                    var field = fieldStart
                    func next() throws(ModelError) -> Int {
                        guard fieldStart + length - field >= 8 else { throw damaged("entry '\(name)' has a short ZIP64 field") }
                        defer { field += 8 }
                        return Int(clamping: bytes.u64(field))
                    }
                    if uncompressedSize == 0xFFFF_FFFF { uncompressedSize = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra = fieldStart + length
            }
            guard flags & 1 == 0 else { throw damaged("entry '\(name)' is encrypted") }

            // The local header repeats the name and has its own extra field (torch pads it to align the data).
            guard localOffset <= size - 30, bytes.u32(localOffset) == 0x0403_4B50 else {
                throw damaged("entry '\(name)': no local header at offset \(localOffset) of the \(size)-byte file")
            }
            let dataStart = localOffset + 30 + Int(bytes.u16(localOffset + 26)) + Int(bytes.u16(localOffset + 28))
            guard dataStart <= size, compressedSize <= size - dataStart else {
                throw damaged("entry '\(name)' (\(compressedSize) bytes at offset \(dataStart)) runs past the end of the \(size)-byte file (truncated?)")
            }
            guard method != 0 || compressedSize == uncompressedSize else {
                throw damaged("stored entry '\(name)' has \(compressedSize) bytes but claims \(uncompressedSize)")
            }
            guard index.updateValue(entries.count, forKey: name) == nil else { throw damaged("entry '\(name)' appears twice") }
            entries.append(Entry(name: name, range: dataStart..<dataStart + compressedSize, method: method, crc32: crc32))
            position = extraEnd + commentLength
        }
        self.entries = entries
        self.index = index
    }

    /// The entry with this name, if any.
    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of a stored entry, checked against its CRC-32.
    func contents(of entry: Entry) throws(ModelError) -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw .pytorchCheckpoint(
                path: path,
                reason: "entry '\(entry.name)' is compressed (zip method \(entry.method)); xlate reads only stored entries, as torch.save writes them")
        }
        let contents = UnsafeRawBufferPointer(rebasing: bytes[entry.range])
        if entry.crc32 != 0, Self.crc32(contents) != entry.crc32 {
            throw .pytorchCheckpoint(path: path, reason: "entry '\(entry.name)' fails its CRC-32 check (damaged download?)")
        }
        return contents
    }

    /// zip's CRC-32 (reflected polynomial 0xEDB88320).
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { (n: UInt32) in
        (0..<8).reduce(n) { crc, _ in crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
}

/// Little-endian reads at offsets the caller has checked.
extension UnsafeRawBufferPointer {
    func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}
