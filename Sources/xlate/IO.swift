import Foundation

/// Reads a file (or stdin for "-") line by line in blocks, so that input of any size streams through.
final class LineReader {
    struct InvalidUTF8: Error { let line: Int }

    private let handle: FileHandle
    private var buffer = Data()
    private var atEnd = false
    /// An invalid line met after some valid ones: reported by the next call, once those are handled.
    private var pendingError: InvalidUTF8?
    /// Lines returned so far.
    private(set) var lineNumber = 0

    init(path: String) throws {
        handle = path == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    }

    /// Up to `count` lines (without their line terminators); empty at the end of the input. Throws
    /// `InvalidUTF8` for a line that is not UTF-8, after returning the valid lines before it.
    func nextLines(_ count: Int) throws -> [String] {
        if let pendingError { throw pendingError }
        var lines: [String] = []
        do {
            try read(count, into: &lines)
        } catch let error as InvalidUTF8 where !lines.isEmpty {
            pendingError = error
        }
        return lines
    }

    private func read(_ count: Int, into lines: inout [String]) throws {
        while lines.count < count {
            if let newline = buffer.firstIndex(of: 0x0A) {
                lines.append(try decode(buffer[buffer.startIndex..<newline]))
                buffer.removeSubrange(buffer.startIndex...newline)
                continue
            }
            if atEnd {
                if !buffer.isEmpty {
                    lines.append(try decode(buffer))
                    buffer.removeAll()
                }
                break
            }
            let block = handle.readData(ofLength: 1 << 16)
            if block.isEmpty { atEnd = true } else { buffer.append(block) }
        }
    }

    private func decode(_ bytes: Data) throws -> String {
        lineNumber += 1
        var bytes = bytes
        if bytes.last == 0x0D { bytes.removeLast() }
        guard let line = String(validating: bytes, as: UTF8.self) else { throw InvalidUTF8(line: lineNumber) }
        return line
    }
}

/// Buffered output to a file or stdout.
final class OutputSink {
    private let handle: FileHandle
    private var buffer = Data()

    init(path: String?) throws {
        if let path, path != "-" {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
                throw CocoaError(
                    FileManager.default.fileExists(atPath: folder) ? .fileWriteNoPermission : .fileNoSuchFile,
                    userInfo: [NSFilePathErrorKey: path])
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        } else {
            handle = FileHandle.standardOutput
        }
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count > 1 << 16 { flush() }
    }

    func flush() {
        if !buffer.isEmpty { handle.write(buffer) }
        buffer.removeAll(keepingCapacity: true)
    }
}
