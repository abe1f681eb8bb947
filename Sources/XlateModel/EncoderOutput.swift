import XlateCore

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
