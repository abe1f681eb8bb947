import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

extension CLITests {
    @Suite struct Aligning {
        static let cat = "The cat sat on the mat."

        /// `translation ||| rest` → rest.
        private func afterSeparator(_ line: String) throws -> String {
            let separator = try #require(line.range(of: " ||| ", options: .backwards), "no ' ||| ' in '\(line)'")
            return String(line[separator.upperBound...])
        }

        @Test func hardLinksFollowTheTranslation() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "hard"], input: Self.cat + "\n\nI like tea.\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // The, cat, sat, on, the, mat. ↔ Die, Katze, saß, auf, der, Matte. — one to one, in order.
            #expect(result.lines == ["Die Katze saß auf der Matte. ||| 0-0 1-1 2-2 3-3 4-4 5-5", "", "Ich mag Tee. ||| 0-0 1-1 2-2"])
        }

        @Test func softGivesTheWordMatrixRows() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "soft"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let rows = try afterSeparator(try #require(result.lines.first)).split(separator: " ")
            #expect(rows.count == 6)  // one group per target word
            for (index, row) in rows.enumerated() {
                let weights = row.split(separator: ",").compactMap { Double($0) }
                try #require(weights.count == 6, "one weight per source word: \(row)")
                #expect(weights.allSatisfy { $0 >= 0 } && weights.reduce(0, +) <= 1.0001)
                #expect(weights.firstIndex(of: weights.max()!) == index, "word \(index) attends to its counterpart: \(row)")
            }
        }

        @Test func thresholdKeepsEveryStrongEnoughLink() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "0.3"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // "auf" attends to both "sat" and "on".
            #expect(result.lines == ["Die Katze saß auf der Matte. ||| 0-0 1-1 2-2 2-3 3-3 4-4 5-5"])
            let all = try CLI.run(["-s", "en", "-t", "de", "--align", "0.0001"], input: Self.cat + "\n")
            let links = try afterSeparator(try #require(all.lines.first)).split(separator: " ")
            #expect(links.count > 6)
        }

        @Test func scoresAndNBestKeepTheirFieldsBeforeTheLinks() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "hard", "--nbest", "2", "--scores"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            try #require(result.lines.count == 2, "output: \(result.output)")
            for line in result.lines {
                let fields = line.components(separatedBy: " ||| ")
                #expect(fields.count == 3, "translation ||| score ||| links: \(line)")
                #expect(Double(fields[1]) != nil)
                #expect(fields[2].split(separator: " ").allSatisfy { $0.split(separator: "-").count == 2 })
            }
            let best = result.lines[0].components(separatedBy: " ||| ")
            #expect(best[0] == "Die Katze saß auf der Matte." && best[2] == "0-0 1-1 2-2 3-3 4-4 5-5")
            #expect(abs((Double(best[1]) ?? 0) - -0.214988) < 1e-4, "score \(best[1])")
        }

        @Test func jsonHasAnAlignmentObject() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "soft", "--format", "json"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let object = try jsonObject(try #require(result.lines.first))
            let alignment = try #require(object["alignment"] as? [String: Any])
            #expect(alignment["source_words"] as? [String] == ["The", "cat", "sat", "on", "the", "mat."])
            #expect(alignment["target_words"] as? [String] == ["Die", "Katze", "saß", "auf", "der", "Matte."])
            #expect(alignment["pharaoh"] as? String == "0-0 1-1 2-2 3-3 4-4 5-5")
            #expect(alignment["links"] as? [[Int]] == [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]])
            #expect(alignment["layer"] as? Int == 1)
            #expect(alignment["heads"] as? [Int] == [4])
            let matrix = try #require(alignment["matrix"] as? [[Double]])
            #expect(matrix.count == 6 && matrix.allSatisfy { $0.count == 6 })
        }

        @Test func tsvGetsAnAlignmentColumn() throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", "hard", "--format", "tsv"], input: Self.cat + "\n")
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines == [Self.cat + "\tDie Katze saß auf der Matte.\t0-0 1-1 2-2 3-3 4-4 5-5"])
        }

        @Test(arguments: ["medium", "0", "1.5", "-1"])
        func badAlignValueIsAUsageError(_ value: String) throws {
            let result = try CLI.run(["-s", "en", "-t", "de", "--align", value], input: Self.cat + "\n")
            #expect(result.status == 64)
            #expect(result.stderr.contains("--align"), "stderr: \(result.stderr)")
        }

        @Test func alignCommandDrawsAPlainHeatmapThatFits() throws {
            let result = try CLI.run(
                ["align", "-s", "en", "-t", "de", "--color", "none", "--width", "40", Self.cat, "He writes a letter to his mother."])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let output = result.output
            #expect(output.hasPrefix("attention: layer 1 · head 4, the model's default\n"))
            #expect(output.contains("[1] The cat sat on the mat.\n    Die Katze saß auf der Matte.\n"))
            #expect(output.contains("links: 0-0 1-1 2-2 3-3 4-4 5-5\n"))
            #expect(output.contains("[2] He writes a letter to his mother."))
            #expect(output.contains("Katze  ··██"))  // row label, then "cat" the strongest cell of the second column
            #expect(!output.contains("\u{1B}"))
            for line in result.lines where !["[", "    ", "·", "attention:"].contains(where: line.hasPrefix) {
                #expect(line.count <= 40, "'\(line)'")
            }
        }

        @Test func alignCommandColoursAndChoosesLayerAndHeads() throws {
            let result = try CLI.run(["align", "--model", CLI.enDe, "--layer", "2", "--heads", "0,5", "--color", "256", "I like tea."])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.output.hasPrefix("attention: layer 2 · heads 0,5\n"))
            #expect(result.output.contains("\u{1B}[30;48;5;") || result.output.contains("\u{1B}[97;48;5;"))
            let truecolor = try CLI.run(["align", "-s", "en", "-t", "de", "--color", "truecolor", "--level", "pieces", "I like tea."])
            #expect(truecolor.status == 0)
            #expect(truecolor.output.contains(";48;2;"))
            #expect(truecolor.output.contains("</s>"))  // piece level shows the special tokens
        }

        @Test func alignCommandReadsFilesAndWritesSVGAndHTML() throws {
            try withTemporaryDirectory { directory in
                let input = directory.appendingPathComponent("in.txt")
                try Data("The cat sat on the mat.\n\nTom said \"<&>\" is not HTML.\n".utf8).write(to: input)
                let svg = directory.appendingPathComponent("map.svg")
                let html = directory.appendingPathComponent("map.html")
                let result = try CLI.run(["align", "-s", "en", "-t", "de", "-i", input.path, "--svg", svg.path, "--html", html.path])
                #expect(result.status == 0, "stderr: \(result.stderr)")
                #expect(result.output.contains("[1] The cat sat on the mat."))
                #expect(result.output.contains("[2] Tom said"))
                #expect(!result.output.contains("[3]"))  // the blank line is skipped
                #expect(result.stderr.contains("wrote \(svg.path)") && result.stderr.contains("wrote \(html.path)"))

                let svgText = try String(contentsOf: svg, encoding: .utf8)
                #expect(XMLParser(data: Data(svgText.utf8)).parse(), "SVG is well-formed")
                #expect(svgText.contains("&quot;&lt;&amp;&gt;&quot;"))
                let page = try String(contentsOf: html, encoding: .utf8)
                #expect(XMLParser(data: Data(page.utf8)).parse(), "the HTML page is well-formed XML")
                #expect(page.components(separatedBy: "<section class=\"sentence\"").count - 1 == 2)
                #expect(page.contains("Tom said &quot;&lt;&amp;&gt;&quot; is not HTML."))
                // The chosen heads, each layer's average and each other head of the chosen layer: 1 + 3 + 5 views.
                let options = page.components(separatedBy: "<select class=\"view\">")[1].components(separatedBy: "</select>")[0]
                #expect(options.components(separatedBy: "<option").count - 1 == 9)
                for label in ["layer 1 · head 4, the model&#39;s default", "layer 0 · all heads", "layer 2 · all heads", "layer 1 · head 5"] {
                    #expect(options.contains(label), "\(label)")
                }
            }
        }

        @Test(arguments: [
            (["--layer", "3"], "attention layer 3 does not exist"),
            (["--heads", "6"], "attention heads must be in 0...5"),
            (["--heads", "a,b"], "--heads takes head numbers"),
            (["--width", "5"], "--width must be >= 20"),
        ])
        func alignCommandRejectsBadChoices(_ arguments: [String], _ message: String) throws {
            let result = try CLI.run(["align", "-s", "en", "-t", "de"] + arguments + [Self.cat])
            #expect(result.status == 64)
            #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        }

        @Test func helpTeachesByExample() throws {
            let help = try CLI.run(["align", "--help"])
            #expect(help.status == 0)
            #expect(help.output.contains("EXAMPLES"))
            #expect(help.output.contains("xlate align -s en -t de \"The cat sat on the mat.\""))
            #expect(help.output.contains("--html <file>"))
            let root = try CLI.run(["--help"])
            #expect(root.output.contains("align"))
            #expect(root.output.contains("--align <hard|soft|P>"))
        }
    }
}
