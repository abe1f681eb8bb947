import Foundation
import FuzzSupport
@testable import XlateModel

/// Any bytes as a `model.safetensors`: opening either fails with a `ModelError` that names the file, or yields
/// entries that lie inside the data section, do not overlap (empty ones aside) and (for F32/F16/BF16) hold exactly
/// their shape's bytes; each such tensor then reads as float32 or fails only for NaN/Inf.
let scratch = ScratchFolder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInput(data, size) { bytes in
        let path = scratch.write(bytes, to: "model.safetensors")
        let file: SafeTensorsFile
        do throws(ModelError) {
            file = try SafeTensorsFile(path: path)
        } catch {
            invariant(error.localizedDescription.contains(path), "error does not name the file: \(error)")
            return
        }
        // Open succeeded, so the header length fits the file: recompute the data section independently.
        let headerLength = Int(bytes.loadUnaligned(as: UInt64.self).littleEndian)
        let dataLength = bytes.count - 8 - headerLength
        var previousEnd = 0
        for (name, entry) in file.entries.sorted(by: { ($0.value.range.lowerBound, $0.value.range.upperBound) < ($1.value.range.lowerBound, $1.value.range.upperBound) }) {
            invariant(entry.range.lowerBound >= 0 && entry.range.upperBound <= dataLength, "'\(name)' \(entry.range) outside \(dataLength) bytes")
            // An empty tensor occupies no bytes, so it may sit anywhere (SafeTensorsFile allows that on purpose).
            if !entry.range.isEmpty {
                invariant(entry.range.lowerBound >= previousEnd, "'\(name)' overlaps the tensor before it")
                previousEnd = entry.range.upperBound
            }
            invariant(entry.shape.allSatisfy { $0 >= 0 }, "'\(name)' has shape \(entry.shape)")
            guard let type = StorageType(rawValue: entry.dtype) else {
                do throws(ModelError) {
                    _ = try file.read(name, expectedShape: entry.shape)
                    invariant(false, "'\(name)' of dtype \(entry.dtype) was read")
                } catch {
                    invariant(error == .unsupportedDType(tensor: name, dtype: entry.dtype, path: path), "\(error)")
                }
                continue
            }
            let elements = entry.shape.reduce(1, *)  // validated: no overflow, elements · size = byte count
            invariant(elements * type.size == entry.range.count, "'\(name)' \(entry.shape) \(entry.dtype) in \(entry.range.count) bytes")
            do throws(ModelError) {
                let tensor = try file.read(name, expectedShape: entry.shape)
                invariant(tensor.data.count == elements && tensor.data.allSatisfy(\.isFinite), "'\(name)' read wrongly")
            } catch {
                invariant(error == .nonFiniteWeights(tensor: name, path: path), "reading '\(name)': \(error)")
            }
        }
    }
    return 0
}
