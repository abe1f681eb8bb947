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

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }

    /// Size of the last dimension.
    public var columns: Int { shape.last ?? 1 }

    /// Product of all dimensions but the last.
    public var rows: Int { shape.isEmpty ? 1 : count / max(columns, 1) }

    /// The same storage under another shape with as many elements.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Copy of row `index` of the tensor viewed as `rows × columns`.
    public func row(_ index: Int) -> [Float] {
        Array(data[(index * columns)..<((index + 1) * columns)])
    }
}
