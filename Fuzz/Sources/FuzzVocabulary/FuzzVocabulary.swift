import Foundation
import FuzzSupport
@testable import XlateModel

/// Any bytes as a `vocab.json`: the hand-written reader (`VocabularyJSON`, the load-time fast path) never traps, and
/// whatever it accepts, `JSONDecoder` (the fallback it stands in for) reads as the same dictionary.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabulary(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withInput(data, size) { bytes in
        let data = Data(bytes)
        guard let fast = VocabularyJSON.parse(data) else { return }
        let general = try? JSONDecoder().decode([String: Int].self, from: data)
        invariant(general == fast, "VocabularyJSON read \(fast.count) entries that JSONDecoder reads as \(general.map { "\($0.count) entries" } ?? "an error")")
    }
    return 0
}
