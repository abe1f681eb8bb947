import XlateCore

/// The decoder's memory between steps: self-attention keys/values of every row (a KV cache), the
/// cross-attention keys/values of every source sentence (computed once, never copied per beam), scratch memory for
/// the step, and the step's outputs. Preallocated for the initial rows; rows only ever shrink (finished sentences
/// leave) or get reordered (beams). Not copyable: one search owns it.
public struct DecoderState: ~Copyable, Sendable {
    /// Tokens fed so far; the position of the next token.
    public internal(set) var step: Int = 0
    /// `[rows]` the source sentence each row attends to.
    public internal(set) var rowSentences: [Int]
    /// Output of the last step: `[rows, vocabularySize]` logits (row-major; the storage may be longer). Search may
    /// change them in place.
    public var logits: [Float]
    public let vocabularySize: Int
    /// Output of the last step when requested: `[rows, maxSourceLength]` attention probabilities over the source
    /// (zero past each source's length).
    public internal(set) var crossAttention: [Float]?
    public let sourceLengths: [Int]
    public let maxSourceLength: Int

    /// Floats per position in the self-attention cache (heads × head size).
    let width: Int
    /// Positions per row in the cache: the longest target the search allows (at most the model's). The caches are
    /// reserved, not allocated (`ReservedFloats`): a row costs memory only for the positions written, so nothing is
    /// ever copied to grow them.
    let capacity: Int
    var maxLength: Int { capacity }
    let maxRows: Int
    /// Per layer `[maxRows, capacity, width]`.
    private(set) var selfKeys: [ReservedFloats]
    private(set) var selfValues: [ReservedFloats]
    /// Rows that `reorder` saves before overwriting them, packed `[rows, step · width]`.
    private let saved: ReservedFloats
    /// Per layer `[batch, maxSourceLength, 2·width]`: keys then values for each source position.
    let crossKeyValues: [FloatBuffer]
    /// Scratch buffers for the step, sized by the model for `maxRows`.
    let workspace: [FloatBuffer]

    init(
        rowSentences: [Int], layers: Int, width: Int, maxLength: Int, vocabularySize: Int, crossKeyValues: [FloatBuffer],
        sourceLengths: [Int], maxSourceLength: Int, workspaceSizes: [Int]
    ) throws(XlateCoreError) {
        // Reserved before any property is set: a noncopyable value is initialized whole or not at all.
        let size = rowSentences.count * maxLength * width
        var keys: [ReservedFloats] = []
        var values: [ReservedFloats] = []
        for _ in 0..<layers {
            keys.append(try ReservedFloats(count: size))
            values.append(try ReservedFloats(count: size))
        }
        let saved = try ReservedFloats(count: size)
        self.rowSentences = rowSentences
        self.width = width
        capacity = maxLength
        maxRows = rowSentences.count
        selfKeys = keys
        selfValues = values
        self.saved = saved
        self.vocabularySize = vocabularySize
        logits = [Float](repeating: 0, count: maxRows * vocabularySize)
        self.crossKeyValues = crossKeyValues
        self.sourceLengths = sourceLengths
        self.maxSourceLength = maxSourceLength
        workspace = workspaceSizes.map { FloatBuffer(count: $0) }
    }

    public var rows: Int { rowSentences.count }

    /// Keeps rows `indices` (in that order; an index may repeat): beam reordering, dropping finished rows, and
    /// expanding one row into several beams. There can be at most as many rows as the state was made with. The
    /// caches are reordered in place; the memory of rows no longer running is given back.
    public mutating func reorder(_ indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < rows }, "reorder can only keep or repeat existing rows")
        precondition(indices.count <= maxRows, "reorder to \(indices.count) rows exceeds the \(maxRows) allocated")
        if indices.count == rows, indices.elementsEqual(0..<rows) { return }
        let (stride, used) = (capacity * width, step * width)
        // Row i is written with old row indices[i], in increasing i. Old row j is overwritten at i = j (unless it
        // keeps itself), so it is saved first when a later row reads it.
        // The plan depends on the indices only, so it is made once for all layers' caches: `slot[j]` is where old
        // row j is saved (-1: not saved).
        var readLater = [Bool](repeating: false, count: rows)
        for (i, j) in indices.enumerated() where j < i { readLater[j] = true }
        var slot = [Int](repeating: -1, count: rows)
        var savedRows = 0
        for (i, j) in indices.enumerated() where i < rows && readLater[i] && j != i {
            slot[i] = savedRows
            savedRows += 1
        }
        for cache in selfKeys + selfValues {
            for (i, j) in indices.enumerated() {
                if i < rows, slot[i] >= 0 {
                    (saved.pointer + slot[i] * used).update(from: cache.pointer + i * stride, count: used)
                }
                guard j != i else { continue }
                let source = j < i && slot[j] >= 0 ? saved.pointer + slot[j] * used : cache.pointer + j * stride
                (cache.pointer + i * stride).update(from: source, count: used)
            }
            if indices.count < rows { cache.release(from: indices.count * stride) }
        }
        rowSentences = indices.map { rowSentences[$0] }
    }

    /// Checks there is room for position `step` in every row's cache.
    func reserveNextPosition() {
        precondition(step < maxLength, "decoder step \(step) exceeds the model's \(maxLength) positions")
    }

    /// Storage for this step's cross-attention `[rows, maxSourceLength]`, zeroed: last step's, taken out of the state
    /// so that it is uniquely referenced (no allocation after the first step).
    mutating func takeCrossAttentionStorage() -> [Float] {
        var storage = crossAttention ?? []
        crossAttention = nil
        storage.removeAll(keepingCapacity: true)
        storage.append(contentsOf: repeatElement(0, count: rows * maxSourceLength))
        return storage
    }

    /// The self-attention cache of `layer`: keys and values, row `r` position `p` at `(r · capacity + p) · width`.
    func cache(layer: Int) -> (keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>) {
        (selfKeys[layer].pointer, selfValues[layer].pointer)
    }

    /// Stores this step's keys and values of `layer` at position `step` of every row, from a fused projection
    /// `qkv [rows, 3·width]` (query, key, value per row).
    func storeKeyValues(layer: Int, fromFusedQKV qkv: UnsafePointer<Float>) {
        let (keys, values) = cache(layer: layer)
        for r in 0..<rows {
            let position = (r * capacity + step) * width
            (keys + position).update(from: qkv + r * 3 * width + width, count: width)
            (values + position).update(from: qkv + r * 3 * width + 2 * width, count: width)
        }
    }
}
