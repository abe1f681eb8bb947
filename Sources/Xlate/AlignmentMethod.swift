import Foundation

/// How an ``Alignment`` reads words and links from the cross-attention: at which decoder step each target piece's
/// attention is taken, and which source words a link may go to. The layer and heads are the
/// `CrossAttentionRequest`'s. ARCHITECTURE.md ("Alignment methods") has each choice's alignment error rate on
/// `Fixtures/alignment-gold` (`make align-eval`).
public struct AlignmentMethod: Sendable, Hashable, CustomStringConvertible {
    /// Read a target piece's attention at the step where it is the decoder's input, the step after the one that
    /// emitted it ("shift-att", Chen et al. 2020), instead of at the step that predicts it: that step has already
    /// seen the piece, and its attention goes to the piece's source word rather than to the next one.
    public var shifted: Bool
    /// Links of target words that are not punctuation skip source words that are (`.`, `,`, quotes): these soak up
    /// attention ("sinks") without being translated by the word. `</s>` belongs to no word, so it never takes a link.
    public var skipsPunctuation: Bool

    /// A method; by default the attention of the step that predicts each piece, every source word a candidate.
    public init(shifted: Bool = false, skipsPunctuation: Bool = false) {
        self.shifted = shifted
        self.skipsPunctuation = skipsPunctuation
    }

    /// The attention of the step that predicts each target piece (what xlate read before `AlignmentMethod`
    /// existed; Marian's and fairseq's `--print-alignment`).
    public static let predicting = AlignmentMethod()

    /// The method translations' alignments use unless told otherwise (given pairs: the model's
    /// ``Translator/defaultPairAlignment``), the best measured on the committed gold (ARCHITECTURE.md, "Alignment
    /// methods"): the predicting step's attention, punctuation skipped (with the bundled models' `alignment_heads`,
    /// AER 25.5 % en→de and 26.8 % de→en on the test half, from 27.9 % and 28.3 %; shift-att is far worse with these
    /// models).
    public static let `default` = AlignmentMethod(skipsPunctuation: true)

    /// "shifted, skips punctuation", "predicting".
    public var description: String {
        var parts = [shifted ? "shifted" : "predicting"]
        if skipsPunctuation { parts.append("skips punctuation") }
        return parts.joined(separator: ", ")
    }
}

/// How links of the two directions (source→target and target→source) combine into one set: the heuristics of
/// Koehn et al. (2003) as fast_align's `atools -c` computes them.
public enum Symmetrization: String, Sendable, CaseIterable {
    /// Links both directions have (high precision).
    case intersection
    /// Links either direction has (high recall).
    case union
    /// The intersection, grown with union links next to (also diagonally) a link that join a word not yet linked;
    /// then each direction's links that join two words neither yet linked.
    case growDiagFinalAnd = "grow-diag-final-and"
}

extension Alignment {
    /// `forward` (source→target links) and `reverse` (target→source links, already swapped into source-target
    /// indices) combined by `method`, sorted by source then target word, as `atools` prints them.
    ///
    /// grow-diag-final-and follows `atools` step by step: start from the intersection; then, until nothing changes,
    /// pass over the union's other links in (source, target) order and add each one that has a linked neighbour (the
    /// 8 around it) and joins at least one word not yet linked, links added during a pass counting for the links
    /// after it; then add the forward links, then the reverse ones, in (source, target) order, whose two words are
    /// both still unlinked.
    public static func symmetrize(_ forward: [Link], _ reverse: [Link], _ method: Symmetrization) -> [Link] {
        let a = Set(forward), b = Set(reverse)
        func sorted(_ links: Set<Link>) -> [Link] {
            links.sorted { ($0.source, $0.target) < ($1.source, $1.target) }
        }
        switch method {
        case .intersection: return sorted(a.intersection(b))
        case .union: return sorted(a.union(b))
        case .growDiagFinalAnd: break
        }
        var result = a.intersection(b)
        var linkedSources = Set(result.map(\.source)), linkedTargets = Set(result.map(\.target))
        func add(_ link: Link) {
            result.insert(link)
            linkedSources.insert(link.source)
            linkedTargets.insert(link.target)
        }
        let neighbours = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
        // Grow-diag: repeated passes until one adds nothing.
        var candidates = sorted(a.union(b).subtracting(result))
        var grew = true
        while grew {
            grew = false
            var remaining: [Link] = []
            for link in candidates {
                let joinsUnlinked = !linkedSources.contains(link.source) || !linkedTargets.contains(link.target)
                let nextToLink = neighbours.contains { result.contains(Link(source: link.source + $0.0, target: link.target + $0.1)) }
                if joinsUnlinked && nextToLink {
                    add(link)
                    grew = true
                } else {
                    remaining.append(link)
                }
            }
            candidates = remaining
        }
        // Final-and: each direction's links between two words neither yet linked.
        for direction in [a, b] {
            for link in sorted(direction) where !result.contains(link) {
                if !linkedSources.contains(link.source) && !linkedTargets.contains(link.target) { add(link) }
            }
        }
        return sorted(result)
    }
}

/// Alignment error rate (Och & Ney 2003) of links against hand-made gold links, summed over sentences: sure links
/// (S) that an aligner must find, possible links (P, which include S) that it may find. AER = 1 − (|A∩S| + |A∩P|) /
/// (|A| + |S|); precision |A∩P| / |A|; recall |A∩S| / |S|.
public struct AlignmentErrorRate: Sendable, Equatable {
    /// Links proposed, sure links, proposed links that are sure, proposed links that are possible (sure included).
    public private(set) var proposed = 0, sure = 0, proposedSure = 0, proposedPossible = 0

    /// Nothing counted yet.
    public init() {}

    /// Counts one sentence: `links` against its gold `sure` and `possible` links (possible ones need not repeat
    /// the sure ones).
    public mutating func add(_ links: [Alignment.Link], sure: Set<Alignment.Link>, possible: Set<Alignment.Link>) {
        let links = Set(links)
        let possible = possible.union(sure)
        proposed += links.count
        self.sure += sure.count
        proposedSure += links.intersection(sure).count
        proposedPossible += links.intersection(possible).count
    }

    /// 1 − (|A∩S| + |A∩P|) / (|A| + |S|); 1 when nothing was counted.
    public var errorRate: Double {
        proposed + sure == 0 ? 1 : 1 - Double(proposedSure + proposedPossible) / Double(proposed + sure)
    }
    /// |A∩P| / |A| (0 with no links proposed).
    public var precision: Double { proposed == 0 ? 0 : Double(proposedPossible) / Double(proposed) }
    /// |A∩S| / |S| (0 with no sure links).
    public var recall: Double { sure == 0 ? 0 : Double(proposedSure) / Double(sure) }

    /// One line of a gold file: `i-j` sure links and `ipj` possible links (0-based source-target word indices),
    /// separated by spaces. Nil for anything else, naming nothing: the caller knows the file and line.
    public static func parseGold(_ line: String) -> (sure: Set<Alignment.Link>, possible: Set<Alignment.Link>)? {
        var sure = Set<Alignment.Link>(), possible = Set<Alignment.Link>()
        for item in line.split(whereSeparator: \.isWhitespace) {
            let isSure = item.contains("-")
            let parts = item.split(separator: isSure ? "-" : "p", omittingEmptySubsequences: false)
            guard parts.count == 2, let s = Int(parts[0]), let t = Int(parts[1]), s >= 0, t >= 0 else { return nil }
            let link = Alignment.Link(source: s, target: t)
            if isSure { sure.insert(link) } else { possible.insert(link) }
        }
        return (sure, possible)
    }
}
