import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The layout of a `.safetensors` file for a list of tensors, and its writing
/// (format: https://github.com/huggingface/safetensors#format): an 8-byte little-endian header length, a JSON
/// header padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back.
///
/// Tensors are laid out largest element first, then by name, as the safetensors library orders them, so that
/// every tensor starts at a multiple of its element size.
struct SafeTensorsWriter {
    struct Tensor {
        let name: String
        /// F32, F16, BF16, I64, ...
        let dtype: String
        let shape: [Int]
        let byteCount: Int
        let elementSize: Int
    }

    /// Indices into the tensors given to `init`, in file order.
    let order: [Int]
    /// The length prefix and the padded JSON header.
    let header: [UInt8]
    /// Where each tensor (by its index in the tensors given to `init`) starts in the file.
    let starts: [Int]
    let fileSize: Int

    init(tensors: [Tensor], metadata: [String: String]) {
        order = tensors.indices.sorted {
            (tensors[$0].elementSize, tensors[$1].name) > (tensors[$1].elementSize, tensors[$0].name)
        }
        var json = "{\"__metadata__\":{"
            + metadata.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)):\(Self.quoted($0.value))" }.joined(separator: ",")
            + "}"
        var offset = 0
        var dataOffsets = [Int](repeating: 0, count: tensors.count)
        for index in order {
            let tensor = tensors[index]
            json += ",\(Self.quoted(tensor.name)):{\"dtype\":\(Self.quoted(tensor.dtype)),\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}"
            dataOffsets[index] = offset
            offset += tensor.byteCount
        }
        json += "}"
        var jsonBytes = Array(json.utf8)
        jsonBytes += [UInt8](repeating: 0x20, count: (8 - jsonBytes.count % 8) % 8)
        let header = withUnsafeBytes(of: UInt64(jsonBytes.count).littleEndian, Array.init) + jsonBytes
        self.header = header
        starts = dataOffsets.map { $0 + header.count }
        fileSize = header.count + offset
    }

    /// A JSON string literal.
    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Writes the whole file to `destination` (room for `fileSize` bytes); `tensorBytes(index, pointer)` writes
    /// the bytes of tensor `index` (of those given to `init`).
    func encode(into destination: UnsafeMutableRawPointer, tensorBytes: (Int, UnsafeMutableRawPointer) -> Void) {
        header.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        for index in order { tensorBytes(index, destination + starts[index]) }
    }

    /// Writes the file to `path` through a temporary file in the same folder that is renamed into place, so that
    /// no reader ever sees a partial file. Unless `overwrite`, an existing file is left alone and reported.
    func write(to path: String, overwrite: Bool, tensorBytes: (Int, UnsafeMutableRawPointer) -> Void) throws(ModelError) {
        if !overwrite, FileManager.default.fileExists(atPath: path) { throw .outputExists(path: path) }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial").path
        func failure(_ path: String) -> ModelError { .unwritableFile(path: path, reason: String(cString: strerror(errno))) }

        let fd = open(temporary, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure(temporary) }
        var written = false
        defer { if !written { unlink(temporary) } }
        do {
            defer { close(fd) }
            // Reserve the blocks first: a full disk is an error here, not a SIGBUS while writing the mapping.
            let reserved = posix_fallocate(fd, 0, off_t(fileSize))
            guard reserved == 0 else {
                throw ModelError.unwritableFile(path: temporary, reason: String(cString: strerror(reserved)))
            }
            guard let mapping = mmap(nil, fileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
                throw failure(temporary)
            }
            encode(into: mapping, tensorBytes: tensorBytes)
            let synced = msync(mapping, fileSize, MS_SYNC) == 0
            munmap(mapping, fileSize)
            guard synced, fsync(fd) == 0 else { throw failure(temporary) }
        }
        if !overwrite {
            // link(2) fails if `path` appeared meanwhile: never replace a file we were not asked to. Filesystems
            // without hard links (FAT, some FUSE mounts) get a last look and the rename below.
            if link(temporary, path) == 0 {
                unlink(temporary)
                written = true
            } else if errno == EEXIST || FileManager.default.fileExists(atPath: path) {
                throw .outputExists(path: path)
            }
        }
        if !written {
            guard rename(temporary, path) == 0 else { throw failure(path) }
            written = true
        }
        let folder = open(directory, O_RDONLY)
        if folder >= 0 {
            fsync(folder)  // the new name survives a crash; where a folder cannot be synced, the file is still complete
            close(folder)
        }
    }
}
