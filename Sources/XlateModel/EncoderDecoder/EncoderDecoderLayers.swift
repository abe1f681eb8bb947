import Foundation
import XlateCore

/// Where a block's norm sits: before the block, `x + f(norm(x))` (T5, mBART), or after the residual sum,
/// `norm(x + f(x))` (Marian, BART).
enum NormPlacement: Sendable {
    case pre, post
}

/// How a stack knows where each token is.
enum Positions: Sendable {
    /// Added to the scaled embeddings: a row of a `[rows, d]` table (sinusoidal or learned).
    case table(PositionTable)
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

    /// transformers' `M2M100SinusoidalPositionalEmbedding.get_embedding` (fairseq's layout): `[sin(p·ω_j) | cos(p·ω_j)]`
    /// for j < d/2 with `ω_j = exp(−j · ln(10000) / (d/2 − 1))`, computed in float32 as torch does; row `padding` zero.
    static func fairseqSinusoidal(count: Int, dim: Int, padding: Int) -> [Float] {
        var table = [Float](repeating: 0, count: count * dim)
        let half = dim / 2
        let step = Float(log(10000.0) / Double(half - 1))
        let frequencies = (0..<half).map { expf(Float($0) * -step) }
        for position in 0..<count where position != padding {
            for j in 0..<half {
                let angle = Float(position) * frequencies[j]
                table[position * dim + j] = sinf(angle)
                table[position * dim + half + j] = cosf(angle)
            }
        }
        return table
    }

    /// The relative position bias, when the stack has one.
    var relativeBias: RelativePositionBias? {
        if case .relativeBias(let bias) = self { bias } else { nil }
    }
}

/// Position embeddings as a table: position `p` (from 0) reads row `p + offset`.
struct PositionTable: Sendable {
    let rows: FloatBuffer  // [positions + offset, d]
    /// 0 for Marian; 2 for BART's and mBART's learned positions and M2M100's sinusoidal ones (fairseq's layout).
    let offset: Int
    /// M2M100 (`create_position_ids_from_input_ids`): a token of this id (padding) reads row `padding` (zero), and
    /// the positions of a source count only the other tokens. Nil: every token counts.
    let padding: Int?

    init(_ rows: FloatBuffer, offset: Int = 0, padding: Int? = nil) {
        (self.rows, self.offset, self.padding) = (rows, offset, padding)
    }

    /// The row of each token of a source of `ids` (padded to its group's length).
    func sourceRows(_ ids: ArraySlice<Int>) -> [Int] {
        guard let padding else { return ids.indices.map { $0 - ids.startIndex + offset } }
        var counted = 0
        return ids.map { id in
            if id == padding { return padding }
            counted += 1
            return counted - 1 + offset
        }
    }

    /// The row of a decoder token at position `step` (the start token at 0).
    @inline(__always)
    func targetRow(_ id: Int, step: Int) -> Int {
        id == padding ? id : step + offset
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

/// The encoder's weights: token embedding, positions, the norm of the embeddings (BART, mBART:
/// `layernorm_embedding`), layers and (pre-norm families) the final norm.
struct EncoderStack: Sendable {
    let embedding: EmbeddingTable  // [vocab, d]
    let positions: Positions
    var embeddingNorm: Norm? = nil
    let layers: [EncoderLayer]
    let finalNorm: Norm?
}

/// The decoder's weights: token embedding, positions, the norm of the embeddings, layers, the final norm, and the
/// output projection.
struct DecoderStack: Sendable {
    let embedding: EmbeddingTable  // [decoderVocab, d]
    let positions: Positions
    var embeddingNorm: Norm? = nil
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
