import Foundation
import FuzzSupport
@testable import XlateModel

/// Any bytes as a `pytorch_model.bin`: opening (zip archive, restricted unpickler) fails with a `ModelError` that
/// names the file, or yields tensors whose storage lies inside the file and whose view lies inside its storage
/// (recomputed here); the in-memory safetensors file made from them then opens, and each float tensor reads
/// (or fails only for NaN/Inf). Materialising the tensors allocates their bytes: libFuzzer's -malloc_limit_mb turns
/// a small file that asks for gigabytes into a finding.
let scratch = ScratchFolder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPyTorch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInput(data, size) { bytes in
        let path = scratch.write(bytes, to: "pytorch_model.bin")
        let checkpoint: PyTorchCheckpoint
        do throws(ModelError) {
            checkpoint = try PyTorchCheckpoint(path: path)
        } catch {
            invariant(error.localizedDescription.contains(path), "error does not name the file: \(error)")
            return
        }
        for tensor in checkpoint.tensors {
            let name = tensor.name
            invariant(tensor.storage.lowerBound >= 0 && tensor.storage.upperBound <= bytes.count, "'\(name)' storage \(tensor.storage) outside the file")
            invariant(tensor.shape.count == tensor.strides.count && tensor.offset >= 0, "'\(name)' shape \(tensor.shape) strides \(tensor.strides)")
            let elements = tensor.shape.reduce(1, *)
            invariant(tensor.byteCount == elements * tensor.elementSize, "'\(name)' byte count \(tensor.byteCount)")
            if elements > 0 {
                let last = tensor.offset + zip(tensor.shape, tensor.strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
                invariant(tensor.strides.allSatisfy { $0 >= 0 } && (last + 1) * tensor.elementSize <= tensor.storage.count,
                    "'\(name)' view (offset \(tensor.offset), shape \(tensor.shape), strides \(tensor.strides)) past its \(tensor.storage.count)-byte storage")
            }
        }
        let file: SafeTensorsFile
        do throws(ModelError) {
            file = try checkpoint.safeTensorsFile()
        } catch {
            invariant(false, "the safetensors file made from a valid checkpoint does not open: \(error)")
            return
        }
        for (name, entry) in file.entries where StorageType(rawValue: entry.dtype) != nil {
            do throws(ModelError) {
                _ = try file.read(name, expectedShape: entry.shape)
            } catch {
                invariant(error == .nonFiniteWeights(tensor: name, path: path), "reading '\(name)': \(error)")
            }
        }
    }
    return 0
}
