import Foundation
import Testing

/// `xlate serve` as a process on a loopback port, driven over HTTP. Expected translations come from the `xlate`
/// command itself on the same text (the reference the server must match byte for byte); error shapes and words
/// from LibreTranslate's `app.py`.
@Suite("xlate serve", .serialized)
struct ServerTests {
    static let sentence = "The cat sat on the mat."

    /// The CLI's translation of each text, one line each.
    static func cliTranslations(_ texts: [String], _ arguments: [String] = []) throws -> [String] {
        let output = try runXlate(["--model", "Models/xlate-en-de", "--src", "en", "--tgt", "de"] + arguments,
                                  stdin: texts.joined(separator: "\n") + "\n")
        return output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    static func keysFile() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-serve-keys-\(getpid()).txt")
        try "# test keys\nsecret-1\n\nsecret-2\n".write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func libreTranslateAPI() throws {
        let keys = try Self.keysFile()
        defer { try? FileManager.default.removeItem(at: keys) }
        let server = try ServerProcess(["--api-keys", keys.path, "--char-limit", "60", "--max-body-bytes", "4096"])
        defer { server.stop() }
        let expected = try Self.cliTranslations([Self.sentence, "I like tea."])

        // JSON, one text.
        var reply = try server.post("/translate", json: ["q": Self.sentence, "source": "en", "target": "de", "api_key": "secret-1"])
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"] == "application/json")
        #expect(try reply.object as NSDictionary == ["translatedText": expected[0]] as NSDictionary)
        #expect(reply.headers["access-control-allow-origin"] == "*")

        // JSON, an array of texts, with alternatives.
        reply = try server.post("/translate", json: [
            "q": [Self.sentence, "I like tea."], "source": "en", "target": "de", "api_key": "secret-2", "alternatives": 2,
        ])
        #expect(reply.status == 200)
        let object = try reply.object
        #expect(object["translatedText"] as? [String] == expected)
        let alternatives = try #require(object["alternatives"] as? [[String]])
        #expect(alternatives.count == 2)
        let nbest = try Self.cliTranslations([Self.sentence], ["--nbest", "3"])
        var unique: [String] = []
        for candidate in nbest.dropFirst() where candidate != nbest[0] && !unique.contains(candidate) { unique.append(candidate) }
        #expect(alternatives[0] == unique)

        // Form body, and the query string.
        let form = "q=The+cat+sat+on+the+mat.&source=en&target=de&api_key=secret-1"
        reply = try server.request("POST", "/translate", body: Data(form.utf8), contentType: "application/x-www-form-urlencoded")
        #expect(reply.status == 200)
        #expect(try reply.object["translatedText"] as? String == expected[0])
        reply = try server.request("POST", "/translate?" + form)
        #expect(reply.status == 200)
        #expect(try reply.object["translatedText"] as? String == expected[0])

        // Languages: GET, GET with a form body (libretranslatepy sends one), POST.
        for (method, body) in [("GET", nil), ("GET", Data("api_key=secret-1".utf8)), ("POST", Data())] as [(String, Data?)] {
            reply = try server.request(method, "/languages", body: body, contentType: body == nil ? nil : "application/x-www-form-urlencoded")
            #expect(reply.status == 200, "\(method) /languages")
            let languages = try JSONSerialization.jsonObject(with: reply.body) as? [[String: Any]]
            #expect(languages?.count == 2)
            #expect(languages?.first?["code"] as? String == "de")
            #expect(languages?.last?["name"] as? String == "English")
            #expect(languages?.last?["targets"] as? [String] == ["de"])
            #expect(languages?.first?["targets"] as? [String] == [])
        }

        reply = try server.request("GET", "/health")
        #expect(try reply.object as NSDictionary == ["status": "ok"] as NSDictionary)

        reply = try server.request("GET", "/frontend/settings")
        let settings = try reply.object
        #expect(settings["charLimit"] as? Int == 60)
        #expect(settings["apiKeys"] as? Bool == true)
        #expect(settings["keyRequired"] as? Bool == true)
        #expect((settings["language"] as? [String: Any]).flatMap { ($0["source"] as? [String: Any])?["code"] as? String } == "en")

        // Errors: LibreTranslate's statuses and words; the server goes on serving after each.
        let errors: [(String, HTTPReply, Int, String)] = [
            ("no q", try server.post("/translate", json: ["source": "en", "target": "de", "api_key": "secret-1"]), 400,
             "Invalid request: missing q parameter"),
            ("no target", try server.post("/translate", json: ["q": "Hi.", "source": "en", "api_key": "secret-1"]), 400,
             "Invalid request: missing target parameter"),
            ("unknown language", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "xx", "api_key": "secret-1"]),
             400, "xx is not supported"),
            ("no model for the pair", try server.post("/translate", json: ["q": "Hi.", "source": "de", "target": "en", "api_key": "secret-1"]),
             400, "English (en) is not available as a target language from German (de)"),
            ("invalid JSON", try server.request("POST", "/translate", body: Data("{\"q\": ".utf8), contentType: "application/json"),
             400, "Invalid JSON format"),
            ("JSON not an object", try server.request("POST", "/translate", body: Data("[1]".utf8), contentType: "application/json"),
             400, "Invalid JSON format"),
            ("over the char limit", try server.post("/translate", json: ["q": String(repeating: "a", count: 61), "source": "en", "target": "de", "api_key": "secret-1"]),
             400, "Invalid request: request (61) exceeds text limit (60)"),
            ("wrong key", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "de", "api_key": "nope"]),
             403, "Invalid API key"),
            ("no key", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "de"]),
             403, "Please contact the server operator to get an API key"),
            ("alternatives over the limit", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "de", "api_key": "secret-1", "alternatives": 4]),
             400, "Invalid request: alternatives parameter must be <= 3"),
            ("alternatives not a number", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "de", "api_key": "secret-1", "alternatives": "x"]),
             400, "Invalid request: alternatives parameter is not a number"),
            ("format", try server.post("/translate", json: ["q": "Hi.", "source": "en", "target": "de", "api_key": "secret-1", "format": "pdf"]),
             400, "pdf format is not supported"),
            ("auto", try server.post("/translate", json: ["q": "Hi.", "source": "auto", "target": "de", "api_key": "secret-1"]),
             400, "auto is not supported: this server does not detect languages; give the source language's code (see /languages)"),
            ("detect without q", try server.post("/detect", json: ["api_key": "secret-1"]), 400, "Invalid request: missing q parameter"),
            ("detect", try server.post("/detect", json: ["q": "Hi.", "api_key": "secret-1"]), 400,
             "language detection is not supported by this server: give the source language's code"),
            ("unknown route", try server.request("GET", "/nope"), 404, "Not Found"),
            ("body too large", try server.request("POST", "/translate", body: Data(repeating: 0x61, count: 5000), contentType: "application/json"),
             413, "Invalid request: the body is larger than 4096 bytes"),
        ]
        for (name, reply, status, message) in errors {
            #expect(reply.status == status, "\(name): \(reply.text)")
            #expect(reply.error == message, "\(name)")
            #expect(try server.request("GET", "/health").status == 200, "still serving after \(name)")
        }

        // Metrics: the requests above, by route and status; the page.
        let metrics = try server.request("GET", "/metrics").text
        #expect(metrics.contains(#"xlate_http_requests_total{route="/translate",method="POST",status="200"} 4"#), "\(metrics)")
        #expect(metrics.contains(#"xlate_http_requests_total{route="/translate",method="POST",status="403"} 2"#))
        #expect(metrics.contains("xlate_http_request_duration_seconds_bucket{route=\"/translate\""))
        #expect(metrics.contains("xlate_batch_texts_count"))
        #expect(metrics.contains("xlate_target_tokens_total"))
        #expect(metrics.contains("xlate_queue_depth 0"))
        let page = try server.request("GET", "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        for id in ["source", "target", "source-lang", "target-lang", "translate", "alignment"] {
            #expect(page.text.contains("id=\"\(id)\""), "#\(id)")
        }
        #expect(!page.text.contains("http://") && !page.text.contains("https://"), "the page loads nothing from elsewhere")
        #expect(server.stop() == 0)
    }

    /// `/v1/translate` answers with the objects `xlate --format json` writes for the same options.
    @Test func nativeAPI() throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let texts = [Self.sentence, "", "Where is the station? I am lost."]
        let cli = try Self.cliTranslations(texts, ["--format", "json", "--scores", "--align", "hard", "--nbest", "2", "--beam", "3"])
        let reply = try server.post("/v1/translate", json: [
            "q": texts, "source": "en", "target": "de", "scores": true, "alignment": "hard", "nbest": 2, "beam": 3,
        ])
        #expect(reply.status == 200, "\(reply.text)")
        let translations = try #require(try reply.object["translations"] as? [Any])
        let expected = try cli.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
        #expect(translations.count == 3)
        for (got, want) in zip(translations, expected) {
            #expect((got as? NSDictionary) == (want as? NSDictionary))
        }

        // The alignment map as an HTML table, for the page.
        let withMap = try server.post("/v1/translate", json: ["q": Self.sentence, "source": "en", "target": "de", "alignment": "soft", "alignment_html": true])
        let first = try #require((try withMap.object["translations"] as? [[String: Any]])?.first)
        #expect((first["alignment_html"] as? String)?.hasPrefix("<table class=\"map\"") == true)
        #expect((first["alignment"] as? [String: Any])?["matrix"] != nil)

        // Streaming: token events whose deltas make the greedy translation, then the complete object.
        let greedy = try Self.cliTranslations([Self.sentence], ["--beam", "1", "--split", "none", "--format", "json"])
        let stream = try server.post("/v1/translate", json: ["q": Self.sentence, "source": "en", "target": "de", "stream": true, "beam": 1, "split": "none"])
        #expect(stream.status == 200)
        #expect(stream.headers["content-type"] == "text/event-stream")
        var deltas = ""
        var done: Any?
        for event in stream.text.components(separatedBy: "\n\n") where !event.isEmpty {
            let lines = event.split(separator: "\n")
            let name = lines[0].dropFirst("event: ".count)
            let data = try JSONSerialization.jsonObject(with: Data(lines[1].dropFirst("data: ".count).utf8))
            if name == "token" { deltas += (data as? [String: Any])?["delta"] as? String ?? "" }
            if name == "done" { done = data }
        }
        let greedyObject = try JSONSerialization.jsonObject(with: Data(greedy[0].utf8)) as? NSDictionary
        #expect((done as? NSDictionary) == greedyObject)
        #expect(deltas == greedyObject?["translation"] as? String)

        // Options out of the library's bounds, bad fields: 400 with the setting named.
        let bad: [([String: Any], String)] = [
            (["q": "Hi.", "source": "en", "target": "de", "beam": 0], "num_beams"),
            (["q": "Hi.", "source": "en", "target": "de", "nbest": 1_000_000], "num_beams"),
            (["q": "Hi.", "source": "en", "target": "de", "nbest": 5, "beam": 2], "num_return_sequences"),
            (["q": "Hi.", "source": "en", "target": "de", "max_length": Int.max], "max_length"),
            (["q": "Hi.", "source": "en", "target": "de", "beam": 1.5], "Invalid request: beam: must be an integer"),
            (["q": "Hi.", "source": "en", "target": "de", "alignment": "2"], "alignment"),
            (["q": 5, "source": "en", "target": "de"], "q must be a string or an array of strings"),
            (["source": "en", "target": "de"], "missing q parameter"),
            (["q": "Hi.", "source": "en", "target": "de", "stream": true, "beam": 1], "stream translates one segment"),
            (["q": ["Hi.", "Ho."], "source": "en", "target": "de", "stream": true, "beam": 1, "split": "none"], "stream translates one text"),
        ]
        for (body, words) in bad {
            let reply = try server.post("/v1/translate", json: body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
            #expect(reply.error?.contains(words) == true, "\(body): \(reply.text)")
        }
        #expect(try server.request("GET", "/health").status == 200)
    }

    /// `min_length` in `/v1/translate`: the object `xlate --format json --min-length` writes (that option is tested
    /// against transformers in CLITests.MinLength); bad values answer 400 naming `min_length`.
    @Test func nativeAPIMinLength() throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let cat = "The cat sat on the mat because it was tired."
        // The CLI's options, the same in the request, and the JSON `tokens` count CLITests.MinLength expects.
        let cases: [(cli: [String], json: [String: Any], tokens: Int)] = [
            // Greedy, </s> banned until 24 tokens (start included): 23 pieces, then </s>.
            (["--beam", "1", "--min-length", "24"], ["beam": 1, "min_length": 24], 24),
            // The model's beam 4: 28 pieces (CLITests.MinLength lists them), then </s>.
            (["--min-length", "24"], ["min_length": 24], 29),
            // min = max = 20: 18 text pieces and the forced </s>.
            (["--min-length", "20", "--max-length", "20"], ["min_length": 20, "max_length": 20], 19),
        ]
        for c in cases {
            let cli = try Self.cliTranslations([cat], ["--format", "json", "--split", "none"] + c.cli)
            let want = try JSONSerialization.jsonObject(with: Data(cli[0].utf8)) as? NSDictionary
            var body: [String: Any] = ["q": [cat], "source": "en", "target": "de", "split": "none"]
            body.merge(c.json) { $1 }
            let reply = try server.post("/v1/translate", json: body)
            #expect(reply.status == 200, "\(c.cli): \(reply.text)")
            let got = try #require((try reply.object["translations"] as? [Any])?.first as? NSDictionary)
            #expect(got == want, "\(c.cli)")
            // Forced past the unforced translation's 13 pieces and </s>.
            #expect((got["tokens"] as? [String])?.count == c.tokens, "\(c.cli): \(got)")
        }
        let bad: [(Any, String)] = [
            (-1, "Invalid request: min_length: the minimum length must be >= 0, got -1"),
            ("24", "Invalid request: min_length must be of type Int"),
            (2.5, "Invalid request: min_length: must be an integer"),
            (1_000_000, "Invalid request: min_length: the minimum length 1000000 exceeds the maximum length 256"),
        ]
        for (value, words) in bad {
            let reply = try server.post("/v1/translate", json: ["q": cat, "source": "en", "target": "de", "min_length": value])
            #expect(reply.status == 400, "\(value): \(reply.text)")
            #expect(reply.error?.contains(words) == true, "\(value): \(reply.text)")
        }
        let overMax = try server.post("/v1/translate", json: ["q": cat, "source": "en", "target": "de", "min_length": 30, "max_length": 20])
        #expect(overMax.status == 400)
        #expect(overMax.error == "Invalid request: min_length: the minimum length 30 exceeds the maximum length 20", "\(overMax.text)")
        #expect(try server.request("GET", "/health").status == 200)
        #expect(server.stop() == 0)
    }

    /// 16 clients at once: each gets exactly the CLI's translation, and requests shared batches.
    @Test func sixteenConcurrentClientsGetTheCLIOutputs() throws {
        let server = try ServerProcess(["--batch-window-ms", "200", "--max-batch-size", "64"])
        defer { server.stop() }
        let sentences = try evaluationSentences(32)
        let expected = try Self.cliTranslations(sentences)
        let results = Results<[String]>(count: 16)
        DispatchQueue.concurrentPerform(iterations: 16) { client in
            let texts = [sentences[2 * client], sentences[2 * client + 1]]
            results.store(client, Result {
                let reply = try server.post("/translate", json: ["q": texts, "source": "en", "target": "de"])
                return (try reply.object["translatedText"] as? [String]) ?? ["status \(reply.status): \(reply.text)"]
            })
        }
        for client in 0..<16 {
            #expect(try results.value(client).get() == [expected[2 * client], expected[2 * client + 1]], "client \(client)")
        }
        // Fewer batches than requests: requests were joined.
        let metrics = try server.request("GET", "/metrics").text
        let count = metrics.split(separator: "\n").first { $0.hasPrefix("xlate_batch_texts_count") }
            .flatMap { Int($0.split(separator: " ").last!) }
        let batches = try #require(count)
        #expect(batches < 16, "\(batches) batches for 16 requests")
        #expect(metrics.contains("xlate_translated_texts_total 32"))
        #expect(server.stop() == 0)
    }

    /// `format: "html"`: each fragment comes back with its markup, as `xlate --markup html` translates it.
    @Test func htmlFormatKeepsTheMarkupAsTheCLIDoes() throws {
        let server = try ServerProcess([])
        defer { server.stop() }
        let fragments = [
            "The <b>cat</b> sat on the <a href=\"/mat?x=1&amp;y=2\">mat</a>.",
            "<p>Open <code>main.swift</code> at https://example.com/a?b=1 now.</p>",
        ]
        let expected = try Self.cliTranslations(fragments, ["--markup", "html"])
        let reply = try server.post("/translate", json: ["q": fragments, "source": "en", "target": "de", "format": "html"])
        #expect(reply.status == 200, "\(reply.text)")
        let translated = try reply.object["translatedText"] as? [String]
        #expect(translated == expected)
        #expect(translated?[0].contains("<a href=\"/mat?x=1&amp;y=2\">") == true, "\(translated ?? [])")
        #expect(translated?[1].contains("<code>main.swift</code>") == true, "\(translated ?? [])")
        #expect(translated?[1].contains("https://example.com/a?b=1") == true, "\(translated ?? [])")
        #expect(server.stop() == 0)
    }

    /// SIGTERM while a request waits: it is answered, then the server exits 0.
    @Test func sigtermDrainsARequestInFlight() throws {
        let server = try ServerProcess(["--batch-window-ms", "1500"])
        defer { server.stop() }
        let expected = try Self.cliTranslations([Self.sentence])
        let result = Results<HTTPReply>(count: 1)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            result.store(0, Result { try server.post("/translate", json: ["q": Self.sentence, "source": "en", "target": "de"]) })
            done.signal()
        }
        // The request waits out its batch window (1.5 s) on the server; stop the server meanwhile.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try !server.request("GET", "/metrics").text.contains("xlate_queue_depth 1") {
            usleep(20_000)
        }
        #expect(kill(server.process.processIdentifier, SIGTERM) == 0)
        done.wait()
        let reply = try result.value(0).get()
        #expect(reply.status == 200)
        #expect(try reply.object["translatedText"] as? String == expected[0])
        #expect(server.stop() == 0, "\(server.log.text)")
        #expect(server.log.text.contains("stopped: every request in flight was answered"))
    }

    /// A full queue answers 429 with Retry-After; a request past its timeout, 503. Both in LibreTranslate's shape.
    @Test func queueLimitAndTimeout() throws {
        let server = try ServerProcess(["--batch-window-ms", "1500", "--queue-limit", "1", "--timeout", "0.5"])
        defer { server.stop() }
        let first = Results<HTTPReply>(count: 1)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            first.store(0, Result { try server.post("/translate", json: ["q": "I like tea.", "source": "en", "target": "de"]) })
            done.signal()
        }
        // Once the first request waits in its batch window, the queue (1) is full.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try !server.request("GET", "/metrics").text.contains("xlate_queue_depth 1") {
            usleep(10_000)
        }
        let refused = try server.post("/translate", json: ["q": "Hello.", "source": "en", "target": "de"])
        #expect(refused.status == 429, "\(refused.text)")
        #expect(refused.headers["retry-after"].flatMap(Int.init).map { $0 >= 1 } == true)
        #expect(refused.error?.hasPrefix("Slowdown: ") == true)
        done.wait()
        let timedOut = try first.value(0).get()
        #expect(timedOut.status == 503, "\(timedOut.text)")
        #expect(timedOut.error?.contains("timeout") == true)
        #expect(try server.request("GET", "/health").status == 200)
    }

    /// A model that does not load stops the server before it listens, with the model's error.
    @Test func aModelThatDoesNotLoadStopsTheStart() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("xlate-serve-broken-\(getpid())/broken-en-de")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        try "{\"model_type\": \"marian\"}".write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect {
            _ = try ServerProcess(["--model", folder.path], model: false)
        } throws: { error in
            let text = "\(error)"
            return text.contains("exited (3) before listening") && text.contains("broken-en-de") && !text.contains("listening on")
        }
    }

    /// The real LibreTranslate client (libretranslatepy from PyPI, in the virtualenv `.ci/run` makes) against the
    /// server: languages, translations equal to the CLI's, a wrong key, /detect.
    @Test(.enabled(
        if: ProcessInfo.processInfo.environment["XLATE_TEST_PYTHON"] != nil,
        "XLATE_TEST_PYTHON is unset: set it to a python with libretranslatepy installed (.ci/run does) to run the real client"))
    func libretranslatepyClient() throws {
        let python = ProcessInfo.processInfo.environment["XLATE_TEST_PYTHON"]!
        let keys = try Self.keysFile()
        defer { try? FileManager.default.removeItem(at: keys) }
        let server = try ServerProcess(["--api-keys", keys.path])
        defer { server.stop() }
        let texts = [Self.sentence, "Where is the station?\nI am lost."]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repositoryRoot.appendingPathComponent("Tests/ServerTests/Client/libretranslatepy_client.py").path,
                             "http://127.0.0.1:\(server.port)", "secret-1"] + texts
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let languages = try #require(result["languages"] as? [[String: Any]])
        #expect(languages.contains { $0["code"] as? String == "en" && $0["targets"] as? [String] == ["de"] })
        // A form text's line breaks stay; the CLI translates each line, the server the text with its sentences.
        let expected = try Self.cliTranslations([Self.sentence])
        let translations = try #require(result["translations"] as? [String])
        #expect(translations[0] == expected[0])
        let split = try Self.cliTranslations(["Where is the station?", "I am lost."])
        #expect(translations[1] == split.joined(separator: "\n"))
        #expect((result["wrong_key"] as? NSDictionary) == ["status": 403, "error": "Invalid API key"] as NSDictionary)
        #expect((result["detect"] as? [String: Any])?["status"] as? Int == 400)
        #expect(server.stop() == 0)
    }
}

/// Results written by concurrent workers.
final class Results<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<Value, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func store(_ index: Int, _ value: Result<Value, Error>) { lock.withLock { values[index] = value } }
    func value(_ index: Int) throws -> Result<Value, Error> {
        try lock.withLock {
            guard let value = values[index] else { throw ServerTestError(description: "no result \(index)") }
            return value
        }
    }
}
