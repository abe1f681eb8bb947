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

/// Encoder hidden states for a padded batch.
public struct EncoderOutput: Sendable {
    /// `[batch, maxLength, dModel]`; rows past a sentence's length are padding.
    public let hiddenStates: Tensor
    /// Tokens per sentence, including `</s>`.
    public let lengths: [Int]

    public var batchSize: Int { lengths.count }
    public var maxLength: Int { hiddenStates.shape[1] }

    /// The encoder output of sentences `range` alone.
    public func sentences(_ range: Range<Int>) -> EncoderOutput {
        let rowFloats = hiddenStates.shape[1] * hiddenStates.shape[2]
        let data = Array(hiddenStates.data[(range.lowerBound * rowFloats)..<(range.upperBound * rowFloats)])
        return EncoderOutput(
            hiddenStates: Tensor(shape: [range.count, hiddenStates.shape[1], hiddenStates.shape[2]], data: data),
            lengths: Array(lengths[range]))
    }

    /// `body(encoded, sentences)` over all sentences at once (`self`, `0..<batchSize`); when their decoder state
    /// cannot be reserved (`cannotReserve`: an address-space limit such as `ulimit -v`), over each half in turn,
    /// halving again down to single sentences, whose failure is thrown. Each sentence decodes on its own rows, so
    /// the parts give the same results, in order; only the memory at one time is smaller.
    public func inParts<Result>(
        _ body: (_ encoded: EncoderOutput, _ sentences: Range<Int>) throws(XlateCoreError) -> [Result]
    ) throws(XlateCoreError) -> [Result] {
        func run(_ part: EncoderOutput, _ range: Range<Int>) throws(XlateCoreError) -> [Result] {
            do { return try body(part, range) } catch .cannotReserve where range.count > 1 {
                let middle = range.lowerBound + range.count / 2
                let halves = [range.lowerBound..<middle, middle..<range.upperBound]
                var results: [Result] = []
                for half in halves {
                    results += try run(sentences(half), half)
                }
                return results
            }
        }
        return try run(self, 0..<batchSize)
    }

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

/// The sentences of a batch in the groups the encoder runs one after another: consecutive sentences, each group
/// padded to its own longest sentence and holding at most `rowBudget` padded rows (a longer sentence is a group of
/// its own). A sentence attends only within itself and every other operation works row by row, so grouping changes
/// no output; it bounds the encoder's scratch memory by the budget instead of batch × longest source, and a group
/// of short sentences carries less padding than the batch.
struct EncoderGroups {
    /// Padded rows per group: small enough that a group's activations stay in cache, large enough that the weight
    /// products stay efficient.
    static let rowBudget = 512

    /// Each group: its sentences (indices into the batch) and the length they are padded to.
    let groups: [(sentences: Range<Int>, maxLength: Int)]
    /// Padded rows of the largest group.
    let maxRows: Int
    let lengths: [Int]

    init(lengths: [Int], rowBudget: Int = Self.rowBudget) {
        var groups: [(sentences: Range<Int>, maxLength: Int)] = []
        var start = 0
        while start < lengths.count {
            var (end, longest) = (start + 1, lengths[start])
            while end < lengths.count, (end + 1 - start) * max(longest, lengths[end]) <= rowBudget {
                longest = max(longest, lengths[end])
                end += 1
            }
            groups.append((start..<end, longest))
            start = end
        }
        self.groups = groups
        self.lengths = lengths
        maxRows = groups.map { $0.sentences.count * $0.maxLength }.max() ?? 0
    }

    /// Runs `encodeGroup(sentences, maxLength, x)` for each group — it fills `x [sentences.count · maxLength, width]`
    /// (room for `maxRows` rows) with the group's encoder output — and gathers the sentences' rows into
    /// `[batch, batchMaxLength, width]` with zero padding rows.
    func encode(
        width: Int, batchMaxLength: Int,
        _ encodeGroup: (_ sentences: Range<Int>, _ maxLength: Int, _ x: UnsafeMutablePointer<Float>) -> Void
    ) -> Tensor {
        var hidden = [Float](repeating: 0, count: lengths.count * batchMaxLength * width)
        let x = FloatBuffer(uninitializedCount: maxRows * width)
        hidden.withUnsafeMutableBufferPointer { out in
            for (sentences, maxLength) in groups {
                encodeGroup(sentences, maxLength, x.pointer)
                for (i, b) in sentences.enumerated() {
                    (out.baseAddress! + b * batchMaxLength * width)
                        .update(from: x.pointer + i * maxLength * width, count: lengths[b] * width)
                }
            }
        }
        return Tensor(shape: [lengths.count, batchMaxLength, width], data: hidden)
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
