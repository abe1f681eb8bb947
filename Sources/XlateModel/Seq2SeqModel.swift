import XlateCore

/// An encoder–decoder model: encode a batch of sources once, then compute one decoder step at a time.
///
/// The model computes; search (in XlateDecode) decides which tokens to feed and which rows to keep.
public protocol Seq2SeqModel: Sendable {
    /// Token ids and sizes the search needs.
    var vocabulary: ModelVocabulary { get }
    /// Number of decoder layers (for choosing the alignment layer).
    var decoderLayerCount: Int { get }
    /// Cross-attention heads per decoder layer.
    var decoderHeadCount: Int { get }
    /// Longest source the encoder accepts (its position table), in tokens including `</s>`.
    var maxSourceLength: Int { get }
    /// Longest target the decoder accepts, in tokens including the start token.
    var maxTargetLength: Int { get }

    /// Runs the encoder over sentences of source ids (each ending with `</s>`).
    func encode(_ sentences: [[Int]]) -> EncoderOutput

    /// A fresh decoder state whose row `i` reads sentence `rowSentences[i]` of `encoded`. Computes the
    /// cross-attention keys and values once, shared by all rows of a sentence.
    func makeDecoderState(for encoded: EncoderOutput, rowSentences: [Int]) -> DecoderState

    /// Feeds one token per row at position `state.step`. Leaves the next-token logits in `state.logits` and,
    /// when requested, the cross-attention in `state.crossAttention`; allocates nothing.
    func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention: CrossAttentionRequest?)
}

/// The ids that drive generation.
public struct ModelVocabulary: Sendable, Equatable {
    public var decoderStartTokenId: Int
    public var eosTokenIds: [Int]
    public var padTokenId: Int
    /// Size of the output distribution (decoder vocabulary).
    public var targetSize: Int
    /// `forced_eos_token_id` from config.json.
    public var forcedEOSTokenIds: [Int]
}

/// Encoder hidden states for a padded batch.
public struct EncoderOutput: Sendable {
    /// `[batch, maxLength, dModel]`; rows past a sentence's length are padding.
    public let hiddenStates: Tensor
    /// Tokens per sentence, including `</s>`.
    public let lengths: [Int]

    public var batchSize: Int { lengths.count }
    public var maxLength: Int { hiddenStates.shape[1] }

    /// Each projection applied to every source position, padding included: the cross-attention keys and values of
    /// each decoder layer, `[batch, maxLength, 2·width]`.
    func crossKeyValues(_ projections: [Linear]) -> [FloatBuffer] {
        let rows = batchSize * maxLength
        return hiddenStates.data.withUnsafeBufferPointer { states in
            projections.map { projection in
                let kv = FloatBuffer(count: rows * projection.outFeatures)
                projection.apply(states.baseAddress!, rows: rows, into: kv.pointer)
                return kv
            }
        }
    }
}

/// Which cross-attention to return from a decoder step: a layer, and heads to average (nil: all heads).
public struct CrossAttentionRequest: Sendable, Equatable {
    public var layer: Int
    public var heads: [Int]?

    public init(layer: Int, heads: [Int]? = nil) {
        self.layer = layer
        self.heads = heads
    }
}

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
    /// Positions allocated per row in the cache; grows by `growth` positions up to `maxLength` (doubling would hold
    /// up to twice the memory needed; the extra copies of fixed steps are small next to beam reordering's).
    private(set) var capacity: Int
    let maxLength: Int
    let maxRows: Int
    /// Rows the caches have room for: `maxRows`, then the rows running when the caches last grew.
    private(set) var allocatedRows: Int
    /// Per layer `[allocatedRows, capacity, width]`.
    private(set) var selfKeys: [FloatBuffer]
    private(set) var selfValues: [FloatBuffer]
    /// Target of `reorder`'s gather, swapped with the cache it reorders.
    private var spare: FloatBuffer
    /// Per layer `[batch, maxSourceLength, 2·width]`: keys then values for each source position.
    let crossKeyValues: [FloatBuffer]
    /// Scratch buffers for the step, sized by the model for `maxRows`.
    let workspace: [FloatBuffer]

    init(
        rowSentences: [Int], layers: Int, width: Int, maxLength: Int, vocabularySize: Int, crossKeyValues: [FloatBuffer],
        sourceLengths: [Int], maxSourceLength: Int, workspaceSizes: [Int]
    ) {
        self.rowSentences = rowSentences
        self.width = width
        self.maxLength = maxLength
        maxRows = rowSentences.count
        allocatedRows = maxRows
        capacity = min(Self.growth, maxLength)
        let size = maxRows * capacity * width
        selfKeys = (0..<layers).map { _ in FloatBuffer(uninitializedCount: size) }
        selfValues = (0..<layers).map { _ in FloatBuffer(uninitializedCount: size) }
        spare = FloatBuffer(uninitializedCount: size)
        self.vocabularySize = vocabularySize
        logits = [Float](repeating: 0, count: maxRows * vocabularySize)
        self.crossKeyValues = crossKeyValues
        self.sourceLengths = sourceLengths
        self.maxSourceLength = maxSourceLength
        workspace = workspaceSizes.map { FloatBuffer(count: $0) }
    }

    public var rows: Int { rowSentences.count }

    /// Cache positions added at a time.
    static let growth = 32

    /// Keeps rows `indices` (in that order; an index may repeat): beam reordering, dropping finished rows, and
    /// expanding one row into several beams. There can be at most as many rows as the state was made with, and
    /// once the caches have grown, at most as many as were running then.
    public mutating func reorder(_ indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < rows }, "reorder can only keep or repeat existing rows")
        precondition(indices.count <= allocatedRows, "reorder to \(indices.count) rows exceeds the \(allocatedRows) allocated")
        if indices.count == rows, indices.elementsEqual(0..<rows) { return }
        let stride = capacity * width
        let used = step * width
        func gather(_ cache: FloatBuffer) -> FloatBuffer {
            for (newRow, oldRow) in indices.enumerated() {
                (spare.pointer + newRow * stride).update(from: cache.pointer + oldRow * stride, count: used)
            }
            defer { spare = cache }
            return spare
        }
        for l in selfKeys.indices {
            selfKeys[l] = gather(selfKeys[l])
            selfValues[l] = gather(selfValues[l])
        }
        rowSentences = indices.map { rowSentences[$0] }
    }

    /// Makes room for position `step` in every row's cache. Rows never increase, so the new caches only hold the
    /// rows still running.
    mutating func reserveNextPosition() {
        precondition(step < maxLength, "decoder step \(step) exceeds the model's \(maxLength) positions")
        guard step >= capacity else { return }
        let newCapacity = min(maxLength, capacity + Self.growth)
        let (oldStride, newStride) = (capacity * width, newCapacity * width)
        func grow(_ cache: FloatBuffer) -> FloatBuffer {
            let grown = FloatBuffer(uninitializedCount: rows * newStride)
            for row in 0..<rows {
                (grown.pointer + row * newStride).update(from: cache.pointer + row * oldStride, count: oldStride)
            }
            return grown
        }
        selfKeys = selfKeys.map(grow)
        selfValues = selfValues.map(grow)
        spare = FloatBuffer(uninitializedCount: rows * newStride)
        capacity = newCapacity
        allocatedRows = rows
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
