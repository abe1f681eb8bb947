import Foundation
import XlateCore

/// Where a block's norm sits: before the block, `x + f(norm(x))` (T5, mBART), or after the residual sum,
/// `norm(x + f(x))` (Marian, BART).
enum NormPlacement: Sendable {
    case pre, post
}

/// How a stack knows where each token is.
enum Positions: Sendable {
    /// Added to the scaled embeddings: row `p` of a `[positions, d]` table (sinusoidal or learned).
    case table(FloatBuffer)
    /// Added to the self-attention scores of every layer, which are not scaled (T5).
    case relativeBias(RelativePositionBias)

    /// transformers' `MarianSinusoidalPositionalEmbedding`: `[sin(p·ω_j) for j < d/2 | cos(p·ω_j) for j < d/2]`,
    /// `ω_j = 10000^(−2j/d)`, computed in double precision and rounded to float as numpy → torch does.
    static func sinusoidal(count: Int, dim: Int) -> [Float] {
        var table = [Float](repeating: 0, count: count * dim)
        let half = dim / 2
        for position in 0..<count {
            for j in 0..<half {
                let angle = Double(position) / pow(10000, Double(2 * j) / Double(dim))
                table[position * dim + j] = Float(sin(angle))
                table[position * dim + half + j] = Float(cos(angle))
            }
        }
        return table
    }

    /// The relative position bias, when the stack has one.
    var relativeBias: RelativePositionBias? {
        if case .relativeBias(let bias) = self { bias } else { nil }
    }
}

/// One encoder layer: self-attention and feed-forward blocks, each with its norm. A family maps its checkpoint keys
/// onto these fields (the comments name Marian's keys, then T5's: `MarianEncoderLayer`, `T5Block`).
struct EncoderLayer: Sendable {
    let selfAttention: SelfAttention  // self_attn; layer.0.SelfAttention
    let selfAttentionNorm: Norm  // self_attn_layer_norm; layer.0.layer_norm
    let feedForward: FeedForward  // fc1, fc2; layer.1.DenseReluDense
    let feedForwardNorm: Norm  // final_layer_norm; layer.1.layer_norm
}

/// One decoder layer: masked self-attention, cross-attention and feed-forward blocks, each with its norm
/// (`MarianDecoderLayer`, `T5Block`).
struct DecoderLayer: Sendable {
    let selfAttention: SelfAttention  // self_attn; layer.0.SelfAttention
    let selfAttentionNorm: Norm  // self_attn_layer_norm; layer.0.layer_norm
    let crossAttention: CrossAttention  // encoder_attn; layer.1.EncDecAttention
    let crossAttentionNorm: Norm  // encoder_attn_layer_norm; layer.1.layer_norm
    let feedForward: FeedForward  // fc1, fc2; layer.2.DenseReluDense
    let feedForwardNorm: Norm  // final_layer_norm; layer.2.layer_norm
}

/// The encoder's weights: token embedding, positions, layers and (pre-norm families) the final norm.
struct EncoderStack: Sendable {
    let embedding: EmbeddingTable  // [vocab, d]
    let positions: Positions
    let layers: [EncoderLayer]
    let finalNorm: Norm?
}

/// The decoder's weights: token embedding, positions, layers, the final norm, and the output projection.
struct DecoderStack: Sendable {
    let embedding: EmbeddingTable  // [decoderVocab, d]
    let positions: Positions
    let layers: [DecoderLayer]
    let finalNorm: Norm?
    let outputProjection: Linear  // [decoderVocab, d], bias: final_logits_bias where the family has one
}

/// What a family sets besides its weights.
struct EncoderDecoderSettings: Sendable {
    let normPlacement: NormPlacement
    /// Multiplies the token embeddings (`sqrt(d_model)` with `scale_embedding`, else 1).
    let embedScale: Float
    /// Multiplies the decoder output before the projection (T5 tied: `d_model^-0.5`, else 1).
    let outputScale: Float
    /// Source ids are below this.
    let sourceVocabularySize: Int
    let maxSourceLength: Int
    let maxTargetLength: Int
    let vocabulary: ModelVocabulary
}

/// Scratch memory for one encoder pass over a batch.
struct EncoderScratch {
    let normed: FloatBuffer  // [rows, d] (pre-norm only)
    let qkv: FloatBuffer  // [rows, 3·inner]
    let context: FloatBuffer  // [rows, inner]
    let projected: FloatBuffer  // [rows, d]
    let ffn: FloatBuffer  // [rows, ffn] or [rows, 2·ffn] (gated)
    let scores: FloatBuffer  // [maxLength]

    init(rows: Int, dim: Int, inner: Int, ffnPerRow: Int, maxLength: Int, normPlacement: NormPlacement) {
        normed = FloatBuffer(count: normPlacement == .pre ? rows * dim : 0)
        qkv = FloatBuffer(count: rows * 3 * inner)
        context = FloatBuffer(count: rows * inner)
        projected = FloatBuffer(count: rows * dim)
        ffn = FloatBuffer(count: rows * ffnPerRow)
        scores = FloatBuffer(count: maxLength)
    }
}
