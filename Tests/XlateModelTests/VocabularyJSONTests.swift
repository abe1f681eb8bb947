import Foundation
import Testing
@testable import XlateModel

@Suite("Vocabulary JSON reader")
struct VocabularyJSONTests {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["xlate-en-de", "xlate-de-en"])
    func bundledVocabularyReadsAsJSONDecoderReadsIt(model: String) throws {
        let data = try Data(contentsOf: repository.appendingPathComponent("Models/\(model)/vocab.json"))
        let fast = try #require(VocabularyJSON.parse(data))
        #expect(fast == (try JSONDecoder().decode([String: Int].self, from: data)))
        #expect(fast.count > 1000)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let text = #"""
            {"a\"b": 1, "\\": 2, "\u2581the": 3, "\ud83d\ude00": 4, "\/\b\f\n\r\t": 5, "é": 6, "": 7,
             "x": -8}
            """#
        let parsed = try #require(VocabularyJSON.parse(Data(text.utf8)))
        #expect(parsed == ["a\"b": 1, "\\": 2, "\u{2581}the": 3, "😀": 4, "/\u{8}\u{c}\n\r\t": 5, "é": 6, "": 7, "x": -8])
        #expect(parsed == (try JSONDecoder().decode([String: Int].self, from: Data(text.utf8))))
        #expect(VocabularyJSON.parse(Data("\u{FEFF}{\"a\": 1}".utf8)) == ["a": 1])
        #expect(VocabularyJSON.parse(Data("{}".utf8)) == [:])
    }

    /// Anything but a flat object of integers is left to the general parser (nil).
    @Test(arguments: [
        #"{"a": 1.5}"#, #"{"a": 1e3}"#, #"{"a": 01}"#, #"{"a": "1"}"#, #"{"a": [1]}"#, #"{"a": 1,}"#, #"{"a": 1} x"#,
        #"{"a": 1, "a": 2}"#, #"{"a\q": 1}"#, #"{"\ud800": 1}"#, #"{"\udc00\u0041": 1}"#, "{\"a\u{1}\": 1}", #"["a"]"#,
        #"{"a": 1"#, #"{"a" 1}"#, "", #"{"a": 12345678901234567890}"#, #"{"a": -}"#,
    ])
    func otherShapesAreRejected(text: String) {
        #expect(VocabularyJSON.parse(Data(text.utf8)) == nil, "\(text)")
    }

    @Test func invalidUTF8IsRejected() {
        #expect(VocabularyJSON.parse(Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])) == nil)
    }
}
