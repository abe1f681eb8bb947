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

    /// A fresh decoder state whose row `i` reads sentence `rowSentences[i]` of `encoded`, with room for `maxLength`
    /// tokens per row (the start token included; at most `maxTargetLength`). Computes the cross-attention keys and
    /// values once, shared by all rows of a sentence. Throws `cannotReserve` when its caches cannot be reserved
    /// (see `EncoderOutput.inParts`).
    func makeDecoderState(for encoded: EncoderOutput, rowSentences: [Int], maxLength: Int) throws(XlateCoreError) -> DecoderState

    /// Feeds one token per row at position `state.step`. Leaves the next-token logits in `state.logits` and,
    /// when requested, the cross-attention in `state.crossAttention`; allocates nothing.
    func decodeStep(_ tokens: [Int], state: inout DecoderState, crossAttention: CrossAttentionRequest?)
}

extension Seq2SeqModel {
    /// A fresh decoder state with room for the model's longest target.
    public func makeDecoderState(for encoded: EncoderOutput, rowSentences: [Int]) throws(XlateCoreError) -> DecoderState {
        try makeDecoderState(for: encoded, rowSentences: rowSentences, maxLength: maxTargetLength)
    }
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

/// Which cross-attention to return from a decoder step: a layer, and heads to average (nil: all heads).
public struct CrossAttentionRequest: Sendable, Hashable {
    public var layer: Int
    public var heads: [Int]?

    public init(layer: Int, heads: [Int]? = nil) {
        self.layer = layer
        self.heads = heads
    }
}
