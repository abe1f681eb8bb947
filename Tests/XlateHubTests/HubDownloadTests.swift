import Foundation
import Testing

import Xlate
@testable import XlateHub

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A loopback hub serving the tiny Marian model (and files to skip) as `Helsinki-NLP/opus-mt-fr-en`, an empty cache
/// folder, and a client of both that retries at once. `stop()` when done.
private struct HubFixture {
    static let repository = "Helsinki-NLP/opus-mt-fr-en"
    static let token = "hf_test_token"

    let server: LoopbackHubServer
    let cache: URL
    let model: [String: LoopbackHubServer.File]
    let skipped: [String: LoopbackHubServer.File]
    var client: HubClient

    init(adjust: (inout [String: LoopbackHubServer.File]) -> Void = { _ in }) throws {
        server = try LoopbackHubServer()
        cache = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-hub-\(UUID().uuidString)")
        var (model, skipped) = try LoopbackHubServer.tinyMarianRepository(repositoryRoot: repositoryRoot)
        adjust(&model)
        self.model = model
        self.skipped = skipped
        server.add(Self.repository, files: model.merging(skipped) { first, _ in first })
        client = HubClient(cacheDirectory: cache, endpoint: server.url, token: Self.token)
        client.retryDelay = .zero
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: cache)  // cleanup only; a leftover temp folder is harmless
    }

    var destination: URL { cache.appendingPathComponent("models/Helsinki-NLP--opus-mt-fr-en") }
    var staging: URL { cache.appendingPathComponent("downloads/Helsinki-NLP--opus-mt-fr-en") }

    /// The requests that fetched `file`'s bytes: from the CDN (LFS) or the hub's resolve path (small files).
    func transfers(of file: String) -> [LoopbackHubServer.Request] {
        server.requests.filter { $0.target.hasSuffix("/\(file)") && ($0.cdn || !(model[file]?.lfs ?? false)) }
    }

    func names(in directory: URL) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
    }
}

@Suite("Hub download")
struct HubDownloadTests {
    @Test func fetchesOnlyTheModelFilesVerifiedAndTheFolderTranslates() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let reports = ProgressLog()
        let download = try await hub.client.download(HubFixture.repository, progress: reports.append)

        #expect(download.directory.path == hub.destination.path)
        #expect(download.commit == LoopbackHubServer.commit(1))
        #expect(!download.fromCache)
        #expect(try hub.names(in: hub.destination) == Set(hub.model.keys).union([DownloadRecord.fileName]))
        for (name, file) in hub.model {
            #expect(try Data(contentsOf: hub.destination.appendingPathComponent(name)) == file.data, "\(name)")
        }
        let total = hub.model.values.reduce(0) { $0 + $1.data.count }
        #expect(download.bytesDownloaded == total)
        #expect(reports.last == HubDownloadProgress(file: "tokenizer_config.json", bytes: total, totalBytes: total))
        #expect(!FileManager.default.fileExists(atPath: hub.staging.path), "the staging folder is moved into place")

        // What went over the wire: the model info with blobs, then files at the commit it named, never a skipped one;
        // the token to the hub only, not to the CDN it redirects to.
        let requests = hub.server.requests
        #expect(requests.first?.target == "/api/models/Helsinki-NLP/opus-mt-fr-en/revision/main?blobs=true")
        for name in hub.skipped.keys { #expect(!requests.contains { $0.target.hasSuffix("/\(name)") }, "\(name) fetched") }
        let resolves = requests.filter { $0.target.contains("/resolve/") }
        #expect(resolves.count == hub.model.count)
        #expect(resolves.allSatisfy { $0.target.contains("/resolve/\(LoopbackHubServer.commit(1))/") })
        #expect(requests.filter { !$0.cdn }.allSatisfy { $0.headers["authorization"] == "Bearer \(HubFixture.token)" })
        let cdn = requests.filter(\.cdn)
        #expect(cdn.map(\.target) == ["/cdn/Helsinki-NLP/opus-mt-fr-en/\(LoopbackHubServer.commit(1))/model.safetensors"])
        #expect(cdn.allSatisfy { $0.headers["authorization"] == nil })
        #expect(requests.allSatisfy { $0.headers["accept-encoding"] == "identity" }, "sizes and ranges are of the stored bytes")

        let record = try #require(DownloadRecord.read(from: hub.destination))
        #expect(record.commit == download.commit && record.revision == "main")
        #expect(record.files.first { $0.name == "model.safetensors" }?.sha256 == hub.model["model.safetensors"]?.sha256)

        // The folder is a model: ModelResolver finds it by its pair in XLATE_CACHE, and it translates exactly as
        // the same files do from anywhere else.
        let resolver = ModelResolver(environment: ["XLATE_CACHE": hub.cache.path], executable: nil)
        #expect(try resolver.resolve(source: "fr", target: "en").path == hub.destination.path)
        let original = hub.cache.appendingPathComponent("original-opus-mt-fr-en")
        try LoopbackHubServer.write(hub.model, to: original)
        let expected = try await Translator(modelAt: original).translate("Le chat dort.")
        let translated = try await Translator(modelAt: download.directory).translate("Le chat dort.")
        #expect(translated.hypotheses.map(\.ids) == expected.hypotheses.map(\.ids))
        #expect(translated.text == expected.text)
    }

    @Test func theSameCommitAgainFetchesNothing() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let first = try await hub.client.download(HubFixture.repository)
        let before = hub.server.requests.count
        let second = try await hub.client.download(HubFixture.repository)
        #expect(second.fromCache && second.bytesDownloaded == 0)
        #expect(second.files.sorted() == first.files.sorted())
        #expect(hub.server.requests.dropFirst(before).map(\.target) == ["/api/models/Helsinki-NLP/opus-mt-fr-en/revision/main?blobs=true"])
    }

    @Test func aBrokenTransferResumesWithARangeRequest() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let weights = try #require(hub.model["model.safetensors"]?.data)
        let half = weights.count / 2
        hub.server.interruptTransfers(of: "model.safetensors", in: HubFixture.repository, after: half)
        let download = try await hub.client.download(HubFixture.repository)

        let transfers = hub.transfers(of: "model.safetensors")
        try #require(transfers.count == 2)
        #expect(transfers[0].headers["range"] == nil)
        #expect(transfers[1].headers["range"] == "bytes=\(half)-")
        #expect(transfers[1].headers["authorization"] == nil, "the redirect to the CDN drops the token on retries too")
        #expect(try Data(contentsOf: download.directory.appendingPathComponent("model.safetensors")) == weights)
        #expect(download.bytesDownloaded == hub.model.values.reduce(0) { $0 + $1.data.count })
    }

    @Test func aLaterCallResumesWhatAnInterruptedOneLeft() async throws {
        var hub = try HubFixture()
        defer { hub.stop() }
        hub.client.maxAttempts = 1
        let spm = try #require(hub.model["source.spm"]?.data)  // a small (non-LFS) file, served by the hub itself
        hub.server.interruptTransfers(of: "source.spm", in: HubFixture.repository, after: 100_000)
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        guard case .interrupted(file: "source.spm", received: 100_000, expected: spm.count, reason: _)? = error else {
            Issue.record("expected an interruption of source.spm, got \(String(describing: error))")
            return
        }
        #expect(error?.localizedDescription.contains("download again to resume") == true)
        #expect(!FileManager.default.fileExists(atPath: hub.destination.path), "no model folder before every file is there")
        #expect(fileSize(hub.staging.appendingPathComponent("source.spm.incomplete")) == 100_000)

        let before = hub.server.requests.count
        let download = try await hub.client.download(HubFixture.repository)
        let again = hub.server.requests.dropFirst(before)
        #expect(!again.contains { $0.target.hasSuffix("/model.safetensors") }, "files verified by the first call are kept")
        let resumed = try #require(again.first { $0.target.hasSuffix("/source.spm") })
        #expect(resumed.headers["range"] == "bytes=100000-")
        #expect(try Data(contentsOf: download.directory.appendingPathComponent("source.spm")) == spm)
        #expect(download.bytesDownloaded == hub.model.values.reduce(0) { $0 + $1.data.count } - 100_000 - hub.model["model.safetensors"]!.data.count
            - hub.model["config.json"]!.data.count - hub.model["generation_config.json"]!.data.count)
    }

    @Test func aChecksumMismatchDeletesTheFileAndFails() async throws {
        let hub = try HubFixture { files in
            files["model.safetensors"]?.advertisedSHA256 = String(repeating: "ab", count: 32)
        }
        defer { hub.stop() }
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        #expect(error == .checksumMismatch(
            file: "model.safetensors", expected: String(repeating: "ab", count: 32),
            actual: "8d7aa2457cbb369591cdad7caef4cdcebbe930055b2dc023b0f2e51362655935"))
        #expect(error?.localizedDescription.contains("deleted") == true)
        #expect(!FileManager.default.fileExists(atPath: hub.destination.path))
        #expect(!FileManager.default.fileExists(atPath: hub.staging.appendingPathComponent("model.safetensors").path))
        #expect(!FileManager.default.fileExists(atPath: hub.staging.appendingPathComponent("model.safetensors.incomplete").path))
    }

    @Test func aMissingRepositoryOrRevisionIsATypedError() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let missing = await #expect(throws: HubError.self) { try await hub.client.download("Helsinki-NLP/opus-mt-xx-yy") }
        #expect(missing == .repositoryNotFound(repository: "Helsinki-NLP/opus-mt-xx-yy", tokenSent: true))
        #expect(missing?.localizedDescription.contains("check the name") == true)
        let revision = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository, revision: "v9") }
        #expect(revision == .revisionNotFound(repository: HubFixture.repository, revision: "v9"))
        #expect(!FileManager.default.fileExists(atPath: hub.cache.appendingPathComponent("models").path))
        #expect(hub.server.requests.allSatisfy { $0.target.hasPrefix("/api/") }, "nothing fetched after the 404s")
    }

    @Test func aTruncatedModelInfoIsAnInvalidResponse() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        hub.server.truncateModelInfo(of: HubFixture.repository)
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        guard case .invalidResponse(let url, let reason)? = error else {
            Issue.record("expected an invalid response, got \(String(describing: error))")
            return
        }
        #expect(url.hasSuffix("/api/models/Helsinki-NLP/opus-mt-fr-en/revision/main?blobs=true"))
        #expect(reason.contains("not valid JSON"), "\(reason)")
        #expect(hub.server.requests.count == 1)
    }

    @Test func aTokenlessRequestToAPrivateHubIsDeniedWithAHint() async throws {
        var hub = try HubFixture()
        defer { hub.stop() }
        hub.server.requireToken(HubFixture.token)
        hub.client.token = nil
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        #expect(error == .accessDenied(repository: HubFixture.repository, status: 401, gated: false, tokenSent: false))
        #expect(error?.localizedDescription.contains("set HF_TOKEN") == true)
    }

    @Test func offlineNeverTouchesTheNetwork() async throws {
        var hub = try HubFixture()
        defer { hub.stop() }
        hub.client.offline = true
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        guard case .offline(repository: HubFixture.repository, _)? = error else {
            Issue.record("expected an offline error, got \(String(describing: error))")
            return
        }
        #expect(error?.localizedDescription.contains("HF_HUB_OFFLINE") == true)
        #expect(hub.server.requests.isEmpty)

        hub.client.offline = false
        let online = try await hub.client.download(HubFixture.repository)
        let before = hub.server.requests.count
        hub.client.offline = true
        let offline = try await hub.client.download(HubFixture.repository)
        #expect(offline.fromCache && offline.directory.path == online.directory.path && offline.commit == online.commit)
        #expect(try await hub.client.download(HubFixture.repository, revision: String(online.commit.prefix(7))).fromCache)
        await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository, revision: "v2") }
        #expect(hub.server.requests.count == before)
    }

    @Test func aNewCommitReplacesTheCachedFolder() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        _ = try await hub.client.download(HubFixture.repository)
        var files = hub.model.merging(hub.skipped) { first, _ in first }
        files["README.md"] = nil
        files["generation_config.json"] = nil
        hub.server.add(HubFixture.repository, commit: LoopbackHubServer.commit(2), files: files)
        let download = try await hub.client.download(HubFixture.repository)
        #expect(!download.fromCache && download.commit == LoopbackHubServer.commit(2))
        #expect(try !hub.names(in: hub.destination).contains("generation_config.json"))
        #expect(DownloadRecord.read(from: hub.destination)?.commit == LoopbackHubServer.commit(2))
        #expect(try hub.names(in: hub.cache.appendingPathComponent("downloads")) == ["Helsinki-NLP--opus-mt-fr-en.lock"])
    }

    @Test func aShardedCheckpointBringsItsShards() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let fixture = repositoryRoot.appendingPathComponent("Fixtures/marian/untied-relu-bf16")
        var files: [String: LoopbackHubServer.File] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) where name != "reference.json" {
            files[name] = LoopbackHubServer.File(data: try Data(contentsOf: fixture.appendingPathComponent(name)), lfs: name.hasSuffix(".safetensors"))
        }
        files["model-00003-of-00003.safetensors"] = LoopbackHubServer.File(data: Data([1, 2, 3]), lfs: true)  // not in the index
        files["special_tokens_map.json"] = LoopbackHubServer.File(data: Data())
        hub.server.add("tests/sharded", files: files)
        let download = try await hub.client.download("tests/sharded")
        #expect(download.files == [
            "model.safetensors.index.json", "config.json", "generation_config.json", "special_tokens_map.json",
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        ])
        for name in download.files {
            #expect(try Data(contentsOf: download.directory.appendingPathComponent(name)) == files[name]?.data, "\(name)")
        }
    }

    @Test func twoDownloadsOfOneRepositoryDoNotOverlap() async throws {
        let hub = try HubFixture()
        defer { hub.stop() }
        let downloads = hub.cache.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        let path = downloads.appendingPathComponent("Helsinki-NLP--opus-mt-fr-en.lock").path
        let descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        defer { close(descriptor) }
        try #require(flock(descriptor, LOCK_EX) == 0)
        let error = await #expect(throws: HubError.self) { try await hub.client.download(HubFixture.repository) }
        #expect(error == .busy(repository: HubFixture.repository, lockFile: path))
    }

    @Test func modelFileSelection() throws {
        func select(_ names: [String]) throws(HubError) -> [String] {
            try ModelFiles.select(from: Set(names), repository: "o/m", revision: "main")
        }
        let tokenizer = ["source.spm", "target.spm", "vocab.json", "tokenizer_config.json", "special_tokens_map.json"]
        #expect(try select(["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "README.md"] + tokenizer)
            == ["model.safetensors", "config.json"] + tokenizer)
        #expect(try select(["config.json", "pytorch_model.bin", "spiece.model", "tokenizer.json", "flax_model.msgpack"])
            == ["pytorch_model.bin", "config.json", "spiece.model"])
        // BART: byte-level BPE files.
        #expect(try select(["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json"])
            == ["model.safetensors", "config.json", "vocab.json", "merges.txt"])
        // NLLB-200 / mBART-50: tokenizer.json names the language tokens.
        #expect(try select(["config.json", "pytorch_model.bin", "sentencepiece.bpe.model", "tokenizer.json", "README.md"])
            == ["pytorch_model.bin", "config.json", "sentencepiece.bpe.model", "tokenizer.json"])
        #expect(try select(["config.json", "model.safetensors.index.json", "model-00001-of-00001.safetensors"])
            == ["model.safetensors.index.json", "config.json"])
        #expect(throws: HubError.noModelFiles(repository: "o/m", revision: "main", reason: "it has no config.json")) {
            try select(["model.safetensors"])
        }
        let error = #expect(throws: HubError.self) { try select(["config.json", "tf_model.h5", "README.md"]) }
        #expect(error?.localizedDescription.contains("weights found: tf_model.h5") == true)
    }

    @Test func repositoryIDs() throws {
        #expect(try HubRepository("Helsinki-NLP/opus-mt-fr-en").folderName == "Helsinki-NLP--opus-mt-fr-en")
        #expect(try HubRepository("t5-small").folderName == "t5-small")
        for bad in ["", "a/b/c", "../x", "owner/na--me", "owner/", "/name", "owner/name.", "own er/name", "o/ü"] {
            #expect(throws: HubError.invalidRepositoryID(bad)) { try HubRepository(bad) }
        }
        #expect(HubRepository.opusMTID(source: "fr", target: "en") == "Helsinki-NLP/opus-mt-fr-en")
    }

    @Test func settingsFromTheEnvironment() throws {
        let client = try HubClient(environment: [
            "HOME": "/home/u", "HF_ENDPOINT": "http://127.0.0.1:8080/", "HF_TOKEN": "t", "HF_HUB_OFFLINE": "true",
        ])
        #expect(client.endpoint.absoluteString == "http://127.0.0.1:8080")
        #expect(client.token == "t" && client.offline)
        #expect(client.modelsDirectory.path == "/home/u/.cache/xlate/models")
        let defaults = try HubClient(environment: ["XLATE_CACHE": "/tmp/c", "HF_HUB_OFFLINE": "0", "HF_TOKEN": ""])
        #expect(defaults.endpoint == HubClient.defaultEndpoint && defaults.token == nil && !defaults.offline)
        #expect(defaults.modelsDirectory.path == "/tmp/c/models")
        #expect(throws: HubError.self) { try HubClient(environment: ["HOME": "/h", "HF_ENDPOINT": "huggingface.co"]) }
        #expect(throws: HubError.configuration("no cache folder: set XLATE_CACHE (or HOME)")) { try HubClient(environment: [:]) }
        #expect(ModelResolver(environment: ["XLATE_CACHE": "/tmp/c", "HOME": "/home/u"], executable: nil).searchPaths.map(\.path) == ["/tmp/c/models"])
    }

    @Test func sha256MatchesKnownDigests() throws {
        func digest(_ bytes: [UInt8], pieces: Int = 1) -> String {
            var hasher = SHA256()
            let size = max(1, (bytes.count + pieces - 1) / pieces)
            for start in stride(from: 0, to: bytes.count, by: size) {
                hasher.update(Data(bytes[start..<min(bytes.count, start + size)]))
            }
            return hasher.finalizeHex()
        }
        #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Padding edges: 55 bytes fit one block with the length, 56 do not.
        let edges = [
            55: "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072",
            56: "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e",
            63: "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2",
            64: "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c",
            65: "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9",
            119: "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c",
            120: "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98",
        ]
        for (count, expected) in edges { #expect(digest(Array(repeating: 0x78, count: count)) == expected, "\(count) bytes") }
        // Any split into updates gives the same digest.
        let bytes = (0..<1024).map { UInt8($0 % 256) }
        for pieces in [1, 3, 7, 64, 1024] {
            #expect(digest(bytes, pieces: pieces) == "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9")
        }
        #expect(try SHA256.hex(ofFileAt: repositoryRoot.appendingPathComponent("Fixtures/marian/tied-swish/model.safetensors"))
            == "8d7aa2457cbb369591cdad7caef4cdcebbe930055b2dc023b0f2e51362655935")
    }
}

/// Progress reports, collected from the download's threads.
private final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [HubDownloadProgress] = []

    func append(_ progress: HubDownloadProgress) { lock.withLock { reports.append(progress) } }
    var last: HubDownloadProgress? { lock.withLock { reports.last } }
}
