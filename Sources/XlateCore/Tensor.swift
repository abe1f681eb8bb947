/// A dense row-major float32 tensor: a shape and contiguous storage.
///
/// Deliberately small: the engine works on 2-D views (`rows × columns`) and passes raw pointers to kernels.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) elements")
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }

    /// Size of the last dimension.
    public var columns: Int { shape.last ?? 1 }
}
