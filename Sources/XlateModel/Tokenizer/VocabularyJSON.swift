import Foundation

/// A reader for the one JSON shape a vocabulary file has, a flat object of string → integer
/// (`{"<pad>": 0, "▁the": 5, …}`), written for load time: `JSONDecoder` spends tens of milliseconds on a 60,000-entry
/// `vocab.json`, this a few.
///
/// Strict: anything else (nesting, floats, duplicate keys, trailing garbage, bad escapes or UTF-8) gives nil, and
/// the caller falls back to the general parser, which explains what is wrong.
enum VocabularyJSON {
    static func parse(_ data: Data) -> [String: Int]? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String: Int]? in
            var scanner = StrictJSONScanner(bytes: raw.bindMemory(to: UInt8.self))
            return scanner.object()
        }
    }
}
