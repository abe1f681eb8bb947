import Foundation
import Testing

@testable import XlateHub
@testable import xlate

/// A loopback hub (Support/LoopbackHubServer.swift) serving the tiny Marian model as `Helsinki-NLP/opus-mt-fr-en`,
/// an empty cache, and a way to run `xlate` against both.
private struct CLIHub {
    static let repository = "Helsinki-NLP/opus-mt-fr-en"

    let server: LoopbackHubServer
    let directory: URL
    let model: [String: LoopbackHubServer.File]

    init() throws {
        server = try LoopbackHubServer()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-cli-hub-\(UUID().uuidString)")
        let (model, skipped) = try LoopbackHubServer.tinyMarianRepository(repositoryRoot: CLI.repoRoot)
        self.model = model
        server.add(Self.repository, files: model.merging(skipped) { first, _ in first })
        try LoopbackHubServer.write(model, to: original)
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)  // cleanup only; a leftover temp folder is harmless
    }

    var cache: URL { directory.appendingPathComponent("cache") }
    var destination: URL { cache.appendingPathComponent("models/Helsinki-NLP--opus-mt-fr-en") }
    /// The served model files in a folder of their own, to compare translations with.
    var original: URL { directory.appendingPathComponent("original") }

    /// `xlate arguments` with `XLATE_CACHE` and `HF_ENDPOINT` set to this cache and hub, `HF_TOKEN` and
    /// `HF_HUB_OFFLINE` unset, plus `environment`. (`CLI.run` passes the test's environment on, so a script sets
    /// them and execs the built binary.)
    func run(_ arguments: [String], input: String? = nil, environment: [String: String] = [:], stderr: FileHandle? = nil) throws -> CLIResult {
        let binary = try #require(CLI.binary, "build xlate first: swift build -c release --product xlate")
        let settings = ["XLATE_CACHE": cache.path, "HF_ENDPOINT": server.url.absoluteString].merging(environment) { $1 }
        let script = directory.appendingPathComponent("xlate-\(UUID().uuidString).sh")
        let assignments = settings.sorted { $0.key < $1.key }.map { "'\($0.key)=\($0.value)'" }.joined(separator: " ")
        try "#!/bin/sh\nexec env -u HF_TOKEN -u HF_HUB_OFFLINE \(assignments) '\(binary.path)' \"$@\"\n"
            .write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return try CLI.run(arguments, stdin: input.map { Data($0.utf8) }, executable: script, stderr: stderr)
    }
}

extension CLITests {
    @Suite struct Downloading {
        static let input = "Le chat dort.\nBonjour.\n"

        @Test func modelNotFoundSaysHowToDownloadIt() throws {
            let hub = try CLIHub()
            defer { hub.stop() }
            let result = try hub.run(["--src", "fr", "--tgt", "en"], input: Self.input)
            #expect(result.status == 2)
            #expect(result.stderr.contains("xlate download Helsinki-NLP/opus-mt-fr-en"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("--download"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains(hub.cache.appendingPathComponent("models").path), "the cache is searched: \(result.stderr)")
            #expect(hub.server.requests.isEmpty)
        }

        @Test func downloadFlagFetchesTheModelThenTranslates() throws {
            let hub = try CLIHub()
            defer { hub.stop() }
            let expected = try CLI.run(["--model", hub.original.path], input: Self.input)
            try #require(expected.status == 0, "stderr: \(expected.stderr)")

            let result = try hub.run(["--src", "fr", "--tgt", "en", "--download"], input: Self.input)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.lines == expected.lines)
            #expect(result.stderr.contains("downloading Helsinki-NLP/opus-mt-fr-en"), "stderr: \(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: hub.destination.appendingPathComponent("model.safetensors").path))

            // Now the cache serves the pair, with or without --download, and the hub is not asked again.
            let requests = hub.server.requests.count
            for flags in [[], ["--download"]] {
                let again = try hub.run(["--src", "fr", "--tgt", "en"] + flags, input: Self.input)
                #expect(again.status == 0, "stderr: \(again.stderr)")
                #expect(again.lines == expected.lines)
                #expect(again.stderr.isEmpty, "stderr: \(again.stderr)")
            }
            #expect(hub.server.requests.count == requests)
        }

        @Test func downloadCommandPrintsTheModelFolder() throws {
            let hub = try CLIHub()
            defer { hub.stop() }
            let result = try hub.run(["download", CLIHub.repository])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.output == hub.destination.path + "\n")
            #expect(result.stderr.contains("downloaded Helsinki-NLP/opus-mt-fr-en (commit 0000000, 7 files"), "stderr: \(result.stderr)")
            for (name, file) in hub.model {
                #expect(try Data(contentsOf: hub.destination.appendingPathComponent(name)) == file.data, "\(name)")
            }
            let again = try hub.run(["download", CLIHub.repository, "--quiet"])
            #expect(again.status == 0 && again.output == result.output && again.stderr.isEmpty, "stderr: \(again.stderr)")
            let offline = try hub.run(["download", CLIHub.repository], environment: ["HF_HUB_OFFLINE": "1"])
            #expect(offline.status == 0 && offline.output == result.output, "stderr: \(offline.stderr)")
            #expect(offline.stderr.contains("is already in"), "stderr: \(offline.stderr)")
        }

        @Test func progressIsShownOnATerminal() throws {
            let hub = try CLIHub()
            defer { hub.stop() }
            let terminal = try Terminal()
            let result = try hub.run(["download", CLIHub.repository], stderr: terminal.child)
            let shown = terminal.readAll()
            #expect(result.status == 0)
            #expect(shown.contains("%") && shown.contains(" MB · "), "terminal: \(shown.debugDescription)")
            #expect(shown.contains("\r\u{1B}[Kxlate: downloaded Helsinki-NLP/opus-mt-fr-en"), "erased before the summary: \(shown.debugDescription)")
        }

        @Test func progressLineFormat() {
            let progress = HubDownloadProgress(file: "model.safetensors", bytes: 75_000_000, totalBytes: 300_000_000)
            let line = DownloadProgress.line(progress, bytesPerSecond: 25_000_000, width: 100)
            #expect(line == " 25% [" + String(repeating: "#", count: 7) + String(repeating: "·", count: 23)
                + "] 75.0 of 300.0 MB · 25.0 MB/s · ETA 0:09 · model.safetensors")
            #expect(line.count < 100)
            #expect(DownloadProgress.line(progress, bytesPerSecond: 25_000_000, width: 40).count == 39)
        }

        @Test func downloadFailuresExitWithTheirStatus() throws {
            let hub = try CLIHub()
            defer { hub.stop() }
            var corrupt = hub.model
            corrupt["config.json"]?.advertisedSHA256 = String(repeating: "0", count: 64)
            corrupt["config.json"]?.lfs = true
            hub.server.add("tests/corrupt", files: corrupt)

            let missing = try hub.run(["download", "Helsinki-NLP/opus-mt-xx-yy"])
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("no repository Helsinki-NLP/opus-mt-xx-yy"), "stderr: \(missing.stderr)")
            let noPair = try hub.run(["--src", "xx", "--tgt", "yy", "--download"], input: Self.input)
            #expect(noPair.status == 2 && noPair.stdout.isEmpty)
            #expect(noPair.stderr.contains("no repository Helsinki-NLP/opus-mt-xx-yy"), "stderr: \(noPair.stderr)")
            #expect(noPair.stderr.contains("not every pair has an OPUS-MT model"), "stderr: \(noPair.stderr)")
            let revision = try hub.run(["download", CLIHub.repository, "--revision", "v9"])
            #expect(revision.status == 2)
            #expect(revision.stderr.contains("no revision 'v9'"), "stderr: \(revision.stderr)")
            let checksum = try hub.run(["download", "tests/corrupt"])
            #expect(checksum.status == 5)
            #expect(checksum.stderr.contains("config.json is corrupt"), "stderr: \(checksum.stderr)")
            let requests = hub.server.requests.count
            let offline = try hub.run(["download", CLIHub.repository], environment: ["HF_HUB_OFFLINE": "1"])
            #expect(offline.status == 5)
            #expect(offline.stderr.contains("HF_HUB_OFFLINE is set"), "stderr: \(offline.stderr)")
            let offlineFlag = try hub.run(["--src", "fr", "--tgt", "en", "--download"], input: Self.input, environment: ["HF_HUB_OFFLINE": "1"])
            #expect(offlineFlag.status == 5 && offlineFlag.stdout.isEmpty, "stderr: \(offlineFlag.stderr)")
            #expect(hub.server.requests.count == requests, "offline runs never reach the hub")
            let models = hub.cache.appendingPathComponent("models").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: models).isEmpty, "a failed download leaves no model folder")

            let badID = try hub.run(["download", "not//an-id"])
            #expect(badID.status == 64)
            let withModel = try hub.run(["--model", CLI.enDe, "--download"], input: Self.input)
            #expect(withModel.status == 64)
            #expect(withModel.stderr.contains("--download"), "stderr: \(withModel.stderr)")
        }
    }
}
