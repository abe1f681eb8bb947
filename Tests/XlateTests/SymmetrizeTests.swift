import Foundation
import Testing
import Xlate

/// Symmetrisation against cases worked out by hand, step by step as fast_align's `atools -c` does them
/// (src/atools.cc: `IntersectCommand`, `UnionCommand`, `GDFACommand`).
@Suite("Symmetrisation")
struct SymmetrizeTests {
    /// "0-0 1-2" → links.
    static func links(_ text: String) -> [Alignment.Link] {
        text.split(separator: " ").map { item in
            let parts = item.split(separator: "-").map { Int($0)! }
            return Alignment.Link(source: parts[0], target: parts[1])
        }
    }

    static func pharaoh(_ links: [Alignment.Link]) -> String { links.map(\.description).joined(separator: " ") }

    /// Forward 0-0 2-2 3-0, reverse 0-0 1-1 3-3. Intersection: 0-0. Union: all five. grow-diag: pass 1 over the
    /// union's other links in order: 1-1 (source 1 unlinked, diagonal to 0-0) added; 2-2 (diagonal to 1-1, just
    /// added) added; 3-0 (no linked neighbour) not; 3-3 (diagonal to 2-2) added; pass 2: 3-0 joins two linked words,
    /// not added. final-and: 3-0's words are both linked, not added.
    @Test func diagonalNeighboursGrowWithinAPass() {
        let forward = Self.links("0-0 2-2 3-0"), reverse = Self.links("0-0 1-1 3-3")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .intersection)) == "0-0")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .union)) == "0-0 1-1 2-2 3-0 3-3")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .growDiagFinalAnd)) == "0-0 1-1 2-2 3-3")
    }

    /// Forward 0-0 2-3, reverse 0-0 2-2: neither 2-2 nor 2-3 touches 0-0, so nothing grows. final-and: the forward
    /// 2-3 joins two unlinked words and is added; then the reverse 2-2's source word 2 is linked, so it is not
    /// ("-and": both words unlinked; grow-diag-final would take it).
    @Test func finalAndTakesForwardLinksFirstAndNeedsBothWordsUnlinked() {
        let forward = Self.links("0-0 2-3"), reverse = Self.links("0-0 2-2")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .growDiagFinalAnd)) == "0-0 2-3")
        // The other way round, the reverse side's link comes second.
        #expect(Self.pharaoh(Alignment.symmetrize(reverse, forward, .growDiagFinalAnd)) == "0-0 2-2")
    }

    /// Forward 0-0 1-1 2-1, reverse 0-0 1-1 1-2 (one-to-many each way): grow-diag adds 1-2 (target 2 unlinked,
    /// next to 1-1) and 2-1 (source 2 unlinked, next to 1-1): here it reaches the union.
    @Test func growAddsNeighboursThatJoinAnUnlinkedWord() {
        let forward = Self.links("0-0 1-1 2-1"), reverse = Self.links("0-0 1-1 1-2")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .intersection)) == "0-0 1-1")
        #expect(Self.pharaoh(Alignment.symmetrize(forward, reverse, .growDiagFinalAnd)) == "0-0 1-1 1-2 2-1")
    }

    /// A link next to the intersection that joins two already linked words is not grown: forward 0-0 1-1 0-1,
    /// reverse 0-0 1-1 → 0-1 stays out.
    @Test func growSkipsLinksBetweenLinkedWords() {
        let result = Alignment.symmetrize(Self.links("0-0 1-1 0-1"), Self.links("0-0 1-1"), .growDiagFinalAnd)
        #expect(Self.pharaoh(result) == "0-0 1-1")
    }

    @Test func emptySidesGiveNoLinksOrTheOtherSide() {
        #expect(Alignment.symmetrize([], [], .growDiagFinalAnd).isEmpty)
        #expect(Alignment.symmetrize(Self.links("0-1"), [], .intersection).isEmpty)
        #expect(Self.pharaoh(Alignment.symmetrize(Self.links("1-0 0-1"), [], .union)) == "0-1 1-0")
        // Nothing to grow from, and final-and adds the forward links whose words are unlinked: 0-1, then 1-0.
        #expect(Self.pharaoh(Alignment.symmetrize(Self.links("1-0 0-1 0-2"), [], .growDiagFinalAnd)) == "0-1 1-0")
    }

    /// fast_align's own `atools` output on 300 random pairs of link sets (Fixtures/atools/README.md).
    @Test(arguments: [(Symmetrization.intersection, "intersect"), (.union, "union"), (.growDiagFinalAnd, "grow-diag-final-and")])
    func matchesAtoolsOnRandomLinks(method: Symmetrization, file: String) throws {
        let folder = repositoryRoot.appendingPathComponent("Fixtures/atools")
        func lines(_ name: String) throws -> [String] {
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
        let forward = try lines("forward.txt"), reverse = try lines("reverse.txt"), expected = try lines("\(file).txt")
        try #require(forward.count == 300 && reverse.count == 300 && expected.count == 300)
        for index in expected.indices {
            let result = Alignment.symmetrize(Self.links(forward[index]), Self.links(reverse[index]), method)
            #expect(Self.pharaoh(result) == expected[index], "line \(index + 1): \(forward[index]) | \(reverse[index])")
        }
    }

    @Test func swappedTurnsAReverseLinkAround() {
        #expect(Alignment.Link(source: 3, target: 1).swapped == Alignment.Link(source: 1, target: 3))
    }
}
