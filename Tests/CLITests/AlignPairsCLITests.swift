import Foundation
import Testing

extension CLITests {
    /// `xlate align --pairs`: given `source ||| target` lines in, Moses links out, one line per line.
    @Suite struct AligningPairs {
        static let cat = "The cat sat on the mat . ||| Die Katze saß auf der Matte ."

        @Test func pairsInLinksOutOneLinePerLine() throws {
            let input = Self.cat + "\n\nI like tea . ||| Ich mag Tee .\r\n"
            let result = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--symmetrize", "none"], input: input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // Pre-tokenised: "." is a word on each side; a blank line is a pair of empty sides; a CRLF line's "\r" is
            // no word.
            #expect(result.lines == ["0-0 1-1 2-2 3-3 4-4 5-5 6-6", "", "0-0 1-1 2-2 3-3"])
        }

        @Test func aLineThatIsNotAPairKeepsItsPlaceAndIsNamed() throws {
            let input = Self.cat + "\nno separator\nI ||| like ||| tea\n ||| Hallo Welt\nI like tea . ||| Ich mag Tee .\n"
            let result = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--symmetrize", "none"], input: input)
            #expect(result.status == 4, "bad input: \(result.stderr)")
            #expect(result.lines == ["0-0 1-1 2-2 3-3 4-4 5-5 6-6", "", "", "", "0-0 1-1 2-2 3-3"])
            #expect(result.stderr.contains("line 2: expected 'source ||| target', found no '|||'"), "\(result.stderr)")
            #expect(result.stderr.contains("line 3: expected 'source ||| target', found 2 '|||'"), "\(result.stderr)")
            #expect(!result.stderr.contains("line 4"), "an empty side is no error: \(result.stderr)")
            #expect(result.stderr.contains("2 lines could not be aligned"))
        }

        @Test func aTargetTooLongForTheDecoderFailsOnlyItsLine() throws {
            let long = Array(repeating: "Wort", count: 300).joined(separator: " ")
            let input = Self.cat + "\nword ||| \(long)\nI like tea . ||| Ich mag Tee .\n"
            let result = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--symmetrize", "none"], input: input)
            #expect(result.status == 4)
            #expect(result.lines == ["0-0 1-1 2-2 3-3 4-4 5-5 6-6", "", "0-0 1-1 2-2 3-3"])
            #expect(result.stderr.contains("line 2: the target has"), "\(result.stderr)")
        }

        @Test func argumentsAndFilesArePairsToo() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-pairs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
            let file = directory.appendingPathComponent("pairs.txt")
            try Data((Self.cat + "\n").utf8).write(to: file)
            let fromFile = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--symmetrize", "none", "-i", file.path], input: "")
            #expect(fromFile.status == 0 && fromFile.lines == ["0-0 1-1 2-2 3-3 4-4 5-5 6-6"], "\(fromFile.stderr)")
            let fromArguments = try CLI.run(["align", "--model", "Models/xlate-en-de", "--pairs", Self.cat, "bad"], input: "")
            #expect(fromArguments.status == 4 && fromArguments.lines == ["0-0 1-1 2-2 3-3 4-4 5-5 6-6", ""])
            #expect(fromArguments.stderr.contains("argument 2: expected"), "\(fromArguments.stderr)")
        }

        @Test func jsonHasWordsLinksAndTheMatrix() throws {
            let result = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--format", "json", "--symmetrize", "none"], input: Self.cat + "\nbad\n")
            #expect(result.status == 4)
            try #require(result.lines.count == 2)
            let object = try jsonObject(result.lines[0])
            #expect(object["source_words"] as? [String] == ["The", "cat", "sat", "on", "the", "mat", "."])
            #expect(object["pharaoh"] as? String == "0-0 1-1 2-2 3-3 4-4 5-5 6-6")
            let matrix = try #require(object["matrix"] as? [[Double]])
            #expect(matrix.count == 7 && matrix.allSatisfy { $0.count == 7 })
            let error = try jsonObject(result.lines[1])
            #expect((error["error"] as? String)?.hasPrefix("line 2: expected") == true)
        }

        /// Given pairs are read with the model's given-pair setting (generation_config.json "xlate_pair_alignment"),
        /// not the heads its own translations are aligned with: for de-en, layer 1's average rather than layer 2
        /// heads 0,5; --layer/--heads still choose; the reverse direction takes the reverse model's setting.
        @Test func pairsTakeTheModelsPairSetting() throws {
            let input = "Die Katze saß auf der Matte . ||| The cat sat on the mat .\n"
            let byDefault = try CLI.run(["align", "-s", "de", "-t", "en", "--pairs", "--format", "json", "--symmetrize", "none"], input: input)
            #expect(byDefault.status == 0, "stderr: \(byDefault.stderr)")
            let object = try jsonObject(try #require(byDefault.lines.first))
            #expect(object["layer"] as? Int == 1 && object["heads"] == nil, "\(object)")
            #expect(object["method"] as? String == "predicting, skips punctuation")
            let chosen = try CLI.run(
                ["align", "--model", "Models/xlate-de-en", "--pairs", "--format", "json", "--layer", "2", "--heads", "0,5"], input: input)
            #expect(chosen.status == 0, "stderr: \(chosen.stderr)")
            let heads = try jsonObject(try #require(chosen.lines.first))
            #expect(heads["layer"] as? Int == 2 && heads["heads"] as? [Int] == [0, 5], "\(heads)")
            let english = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--format", "json", "--symmetrize", "none"], input: Self.cat + "\n")
            let forward = try jsonObject(try #require(english.lines.first))
            #expect(forward["layer"] as? Int == 1 && forward["heads"] as? [Int] == [4], "\(forward)")
        }

        /// `align-eval --write` learns the given-pair setting on the gold's dev half and writes it into each model's
        /// generation_config.json, keeping the other keys; `align --pairs` with that folder then reads pairs with it.
        /// Run on copies of the bundled models (found first through XLATE_MODELS) and the gold's first 8 pairs.
        @Test func alignEvalWritesTheSettingItLearnsOnDev() throws {
            try withTemporaryDirectory { directory in
                let gold = directory.appendingPathComponent("gold"), models = directory.appendingPathComponent("models")
                try FileManager.default.createDirectory(at: gold, withIntermediateDirectories: true)
                for name in ["en.txt", "de.txt", "gold.txt"] {
                    let text = try String(contentsOf: CLI.repoRoot.appendingPathComponent("Fixtures/alignment-gold/\(name)"), encoding: .utf8)
                    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(8)
                    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: gold.appendingPathComponent(name))
                }
                var originals: [String: Data] = [:]
                for direction in ["en-de", "de-en"] {
                    let bundled = CLI.repoRoot.appendingPathComponent("Models/xlate-\(direction)")
                    let copy = models.appendingPathComponent("xlate-\(direction)")
                    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
                    for name in ["config.json", "model.safetensors", "vocab.json", "source.spm", "target.spm", "tokenizer_config.json"] {
                        try FileManager.default.createSymbolicLink(
                            at: copy.appendingPathComponent(name), withDestinationURL: bundled.appendingPathComponent(name))
                    }
                    let original = try Data(contentsOf: bundled.appendingPathComponent("generation_config.json"))
                    originals[direction] = original
                    var object = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
                    object["xlate_pair_alignment"] = nil
                    try JSONSerialization.data(withJSONObject: object).write(to: copy.appendingPathComponent("generation_config.json"))
                }
                let result = try CLI.run(
                    ["align-eval", "--gold", gold.path, "--pair", "en-de", "--write"], stdin: nil,
                    environment: ["XLATE_MODELS": models.path])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.output.contains("dev: the 4 even lines, test: the 4 odd lines"), "\(result.output)")
                #expect(result.output.contains("Given-pair setting learned on dev (written)"), "\(result.output)")
                let input = ["en-de": Self.cat, "de-en": "Die Katze saß auf der Matte . ||| The cat sat on the mat ."]
                for direction in ["en-de", "de-en"] {
                    let copy = models.appendingPathComponent("xlate-\(direction)")
                    let file = copy.appendingPathComponent("generation_config.json")
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
                    let setting = try #require(object["xlate_pair_alignment"] as? [String: Any], "\(object)")
                    let layer = try #require(setting["layer"] as? Int)
                    #expect((0..<3).contains(layer) && setting["skips_punctuation"] is Bool && setting["shifted"] is Bool)
                    let original = try #require(try JSONSerialization.jsonObject(with: originals[direction]!) as? [String: Any])
                    #expect(object["eos_token_id"] as? Int == 0 && object["pad_token_id"] as? Int == 15999)
                    #expect(object["alignment_heads"] as? [[Int]] == original["alignment_heads"] as? [[Int]])
                    // The bundled model itself is untouched.
                    let bundled = CLI.repoRoot.appendingPathComponent("Models/xlate-\(direction)/generation_config.json")
                    #expect(try Data(contentsOf: bundled) == originals[direction])
                    // align --pairs reads the written setting: its layer, heads and method.
                    let aligned = try CLI.run(
                        ["align", "--model", copy.path, "--pairs", "--format", "json"], stdin: Data((input[direction]! + "\n").utf8))
                    #expect(aligned.status == 0, "stderr: \(aligned.stderr)")
                    let pair = try jsonObject(try #require(aligned.lines.first))
                    #expect(pair["layer"] as? Int == layer)
                    #expect(pair["heads"] as? [Int] == setting["heads"] as? [Int])
                    let method = try #require(pair["method"] as? String)
                    #expect(method.contains("skips punctuation") == (setting["skips_punctuation"] as? Bool == true))
                    #expect(result.stderr.contains("\(method)) to \(file.path)"), "\(result.stderr)")
                }
            }
        }

        /// Both directions: the reverse model (de-en, found from --src/--tgt) aligns the other way; intersection ⊆
        /// each direction ⊆ union, and the printed links are the chosen combination of the two.
        @Test func symmetrizeCombinesBothDirections() throws {
            let input = "He writes a letter to his mother . ||| Er schreibt seiner Mutter einen Brief .\n"
            var linkSets: [String: Set<[Int]>] = [:]
            for method in ["intersection", "union", "grow-diag-final-and"] {
                let result = try CLI.run(
                    ["align", "-s", "en", "-t", "de", "--pairs", "--format", "json", "--symmetrize", method], input: input)
                #expect(result.status == 0, "stderr: \(result.stderr)")
                let object = try jsonObject(try #require(result.lines.first))
                #expect(object["symmetrization"] as? String == method)
                let forward = Set(try #require(object["forward_links"] as? [[Int]]))
                let reverse = Set(try #require(object["reverse_links"] as? [[Int]]))
                let links = Set(try #require(object["links"] as? [[Int]]))
                switch method {
                case "intersection": #expect(links == forward.intersection(reverse))
                case "union": #expect(links == forward.union(reverse))
                default: #expect(forward.intersection(reverse).isSubset(of: links) && links.isSubset(of: forward.union(reverse)))
                }
                let reverseMatrix = try #require(object["reverse_matrix"] as? [[Double]])
                #expect(reverseMatrix.count == 8 && reverseMatrix.allSatisfy { $0.count == 7 }, "rows: the reverse model's target words (English), columns its source words (German)")
                linkSets[method] = links
            }
            let explicit = try CLI.run(
                ["align", "--model", "Models/xlate-en-de", "--reverse-model", "Models/xlate-de-en", "--pairs", "--symmetrize", "union"],
                input: input)
            #expect(explicit.status == 0, "stderr: \(explicit.stderr)")
            let union = try #require(linkSets["union"]).sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }
            #expect(explicit.lines == [union.map { "\($0[0])-\($0[1])" }.joined(separator: " ")])
        }

        /// With --src/--tgt the opposite model (de-en) is found, and grow-diag-final-and is the default; with
        /// --model DIR alone, one direction.
        @Test func bothDirectionsByDefaultWhenTheOppositeModelIsThere() throws {
            let input = "He writes a letter to his mother . ||| Er schreibt seiner Mutter einen Brief .\n"
            let byDefault = try CLI.run(["align", "-s", "en", "-t", "de", "--pairs", "--format", "json"], input: input)
            let explicit = try CLI.run(
                ["align", "-s", "en", "-t", "de", "--pairs", "--format", "json", "--symmetrize", "grow-diag-final-and"], input: input)
            #expect(byDefault.status == 0 && explicit.status == 0, "\(byDefault.stderr) \(explicit.stderr)")
            #expect(byDefault.output == explicit.output)
            let object = try jsonObject(try #require(byDefault.lines.first))
            #expect(object["symmetrization"] as? String == "grow-diag-final-and")
            let oneWay = try CLI.run(["align", "--model", "Models/xlate-en-de", "--pairs", "--format", "json"], input: input)
            #expect(oneWay.status == 0)
            let single = try jsonObject(try #require(oneWay.lines.first))
            #expect(single["symmetrization"] == nil && single["reverse_links"] == nil)
            #expect(single["links"] as? [[Int]] == object["forward_links"] as? [[Int]])
        }

        @Test func optionsThatNeedPairsOrAReverseModelAreUsageErrors() throws {
            let noReverse = try CLI.run(["align", "--model", "Models/xlate-en-de", "--pairs", "--symmetrize", "union"], input: Self.cat + "\n")
            #expect(noReverse.status == 64 && noReverse.stderr.contains("--reverse-model"), "\(noReverse.stderr)")
            let noPairs = try CLI.run(["align", "-s", "en", "-t", "de", "--symmetrize", "union", "I like tea."], input: "")
            #expect(noPairs.status == 64 && noPairs.stderr.contains("go with --pairs"), "\(noPairs.stderr)")
        }

        @Test func theHTMLPageMarksTheSymmetrisedLinks() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-pairs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }  // cleanup only
            let page = directory.appendingPathComponent("map.html"), image = directory.appendingPathComponent("map.svg")
            let input = "He writes a letter to his mother . ||| Er schreibt seiner Mutter einen Brief .\n"
            let result = try CLI.run(
                ["align", "-s", "en", "-t", "de", "--pairs", "--symmetrize", "union", "--html", page.path, "--svg", image.path],
                input: input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let links = try #require(result.lines.first).split(separator: " ").count
            let html = try String(contentsOf: page, encoding: .utf8)
            #expect(html.contains("He writes a letter to his mother ."))
            // Word level: one marked cell per link (the union can give a target word several).
            let words = try #require(html.range(of: "data-level=\"words\""))
            let wordTable = html[words.lowerBound...]
            let wordTableEnd = try #require(wordTable.range(of: "</table>"))
            #expect(wordTable[..<wordTableEnd.lowerBound].components(separatedBy: "class=\"hard").count - 1 == links)
            let svg = try String(contentsOf: image, encoding: .utf8)
            #expect(svg.components(separatedBy: "<circle").count - 1 == links)
        }
    }
}
