import Foundation
import Testing

@Suite("CLI: documents and markup")
struct DocumentsCLITests {
    static let documents = CLI.repoRoot.appendingPathComponent("Tests/XlateDocumentsTests/Documents")

    @Test func htmlFileByExtensionIsWrittenWhole() throws {
        try withTemporaryDirectory { folder in
            let output = folder.appendingPathComponent("page.de.html").path
            let result = try CLI.run(["--model", CLI.enDe, "-b", "1", "-q", "-i", Self.documents.appendingPathComponent("page.html").path, "-o", output])
            #expect(result.status == 0, "\(result.stderr)")
            let text = try String(contentsOfFile: output, encoding: .utf8)
            #expect(text.hasPrefix("<!DOCTYPE html>") && text.contains("<pre>\n$ garden --status\nall plants: ok\n</pre>"))
            #expect(!text.contains("Cut the grass"))
            // No temporary file is left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["page.de.html"])
        }
    }

    @Test func inputFormatOverridesTheExtension() throws {
        try withTemporaryDirectory { folder in
            let input = folder.appendingPathComponent("subtitles.txt")
            try "1\n00:00:01,000 --> 00:00:02,000\nGood morning.\n".write(to: input, atomically: true, encoding: .utf8)
            let result = try CLI.run(["--model", CLI.enDe, "-b", "1", "-q", "-i", input.path, "--input-format", "srt"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.lines.count == 3 && result.lines[0] == "1" && result.lines[1] == "00:00:01,000 --> 00:00:02,000")
            #expect(result.lines[2] != "Good morning.")
        }
    }

    @Test func markupHTMLLinesKeepTheirTags() throws {
        let result = try CLI.run(["--model", CLI.enDe, "-b", "1", "-q", "--markup", "html"],
                                 input: "The <b>cat</b> sat on the mat.\n<a href=\"/x?a=1&amp;b=2\">Good morning</a>, Anna.\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.lines.count == 2)
        #expect(result.lines[0].contains("<b>Katze</b>"), "\(result.lines)")
        #expect(result.lines[1].contains("<a href=\"/x?a=1&amp;b=2\">") && result.lines[1].contains("</a>"))
    }

    @Test func noProtectLetsTheModelTranslateNumbers() throws {
        let line = "The file is 1199 bytes long and lives at https://example.com/a_b.\n"
        let kept = try CLI.run(["--model", CLI.enDe, "-b", "1", "-q", "--markup", "plain"], input: line)
        #expect(kept.status == 0 && kept.output.contains("1199") && kept.output.contains("https://example.com/a_b"), "\(kept.output)")
        let free = try CLI.run(["--model", CLI.enDe, "-b", "1", "-q", "--markup", "plain", "--no-protect"], input: line)
        #expect(free.status == 0)
    }

    @Test func sameFileIsRefused() throws {
        try withTemporaryDirectory { folder in
            let page = folder.appendingPathComponent("page.html")
            try "<p>Hello.</p>".write(to: page, atomically: true, encoding: .utf8)
            let result = try CLI.run(["--model", CLI.enDe, "-i", page.path, "-o", page.path])
            #expect(result.status == 64)
            #expect(try String(contentsOf: page, encoding: .utf8) == "<p>Hello.</p>")
        }
    }

    @Test func badDocumentIsExit4AndWritesNothing() throws {
        try withTemporaryDirectory { folder in
            let input = folder.appendingPathComponent("talk.vtt"), output = folder.appendingPathComponent("out.vtt")
            try "00:00:01.000 --> 00:00:02.000\nHello.\n".write(to: input, atomically: true, encoding: .utf8)
            let result = try CLI.run(["--model", CLI.enDe, "-i", input.path, "-o", output.path])
            #expect(result.status == 4)
            #expect(result.stderr.contains("talk.vtt") && result.stderr.contains("WEBVTT"))
            #expect(!FileManager.default.fileExists(atPath: output.path))
        }
    }

    @Test func lineOptionsDoNotGoWithDocumentsOrMarkup() throws {
        let document = try CLI.run(["--model", CLI.enDe, "-i", Self.documents.appendingPathComponent("movie.srt").path, "--nbest", "2"])
        #expect(document.status == 64)
        let markup = try CLI.run(["--model", CLI.enDe, "--markup", "html", "--format", "json"], input: "Hi.\n")
        #expect(markup.status == 64)
        let both = try CLI.run(["--model", CLI.enDe, "--markup", "html", "--input-format", "html"], input: "Hi.\n")
        #expect(both.status == 64)
    }
}
