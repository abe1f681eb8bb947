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

    /// Feeds one token per row at position `state.step` and returns the next-token logits.
    func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention: CrossAttentionRequest?) -> StepOutput
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

/// What one decoder step returns.
public struct StepOutput: Sendable {
    /// `[rows, targetVocabulary]` raw next-token logits.
    public var logits: Tensor
    /// `[rows, maxSourceLength]` attention probabilities over source tokens (zero past each source's length),
    /// when requested.
    public var crossAttention: Tensor?
}

/// The decoder's memory between steps: self-attention keys/values of every row (a KV cache) and the
/// cross-attention keys/values of every source sentence (computed once, never copied per beam).
public struct DecoderState: Sendable {
    /// Tokens fed so far; the position of the next token.
    public internal(set) var step: Int = 0
    /// `[rows]` the source sentence each row attends to.
    public internal(set) var rowSentences: [Int]
    /// Floats per position in the self-attention cache (heads × head size).
    let width: Int
    /// Positions allocated per row in the cache; grows by doubling up to `maxLength`.
    var capacity: Int
    let maxLength: Int
    /// Per layer `[rows, capacity, width]`.
    var selfKeys: [[Float]]
    var selfValues: [[Float]]
    /// Per layer `[batch, maxSourceLength, 2·width]`: keys then values for each source position.
    let crossKeyValues: [[Float]]
    public let sourceLengths: [Int]
    public let maxSourceLength: Int

    init(rowSentences: [Int], layers: Int, width: Int, maxLength: Int, crossKeyValues: [[Float]], sourceLengths: [Int], maxSourceLength: Int) {
        self.rowSentences = rowSentences
        self.width = width
        self.maxLength = maxLength
        capacity = min(16, maxLength)
        let size = rowSentences.count * capacity * width
        selfKeys = Array(repeating: [Float](repeating: 0, count: size), count: layers)
        selfValues = selfKeys
        self.crossKeyValues = crossKeyValues
        self.sourceLengths = sourceLengths
        self.maxSourceLength = maxSourceLength
    }

    public var rows: Int { rowSentences.count }

    /// Keeps rows `indices` (in that order; an index may repeat): beam reordering and dropping finished rows.
    public mutating func reorder(_ indices: [Int]) {
        if indices == Array(0..<rows) { return }
        let stride = capacity * width
        let used = step * width
        func gather(_ cache: [Float]) -> [Float] {
            var result = [Float](repeating: 0, count: indices.count * stride)
            cache.withUnsafeBufferPointer { source in
                result.withUnsafeMutableBufferPointer { target in
                    for (newRow, oldRow) in indices.enumerated() {
                        (target.baseAddress! + newRow * stride).update(from: source.baseAddress! + oldRow * stride, count: used)
                    }
                }
            }
            return result
        }
        selfKeys = selfKeys.map(gather)
        selfValues = selfValues.map(gather)
        rowSentences = indices.map { rowSentences[$0] }
    }

    /// Makes room for position `step` in every row's cache.
    mutating func reserveNextPosition() {
        precondition(step < maxLength, "decoder step \(step) exceeds the model's \(maxLength) positions")
        guard step >= capacity else { return }
        let newCapacity = min(maxLength, capacity * 2)
        let (oldStride, newStride) = (capacity * width, newCapacity * width)
        func grow(_ cache: [Float]) -> [Float] {
            var result = [Float](repeating: 0, count: rows * newStride)
            cache.withUnsafeBufferPointer { source in
                result.withUnsafeMutableBufferPointer { target in
                    for row in 0..<rows {
                        (target.baseAddress! + row * newStride).update(from: source.baseAddress! + row * oldStride, count: oldStride)
                    }
                }
            }
            return result
        }
        selfKeys = selfKeys.map(grow)
        selfValues = selfValues.map(grow)
        capacity = newCapacity
    }
}
