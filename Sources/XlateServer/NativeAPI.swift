import Foundation
import Hummingbird
import Xlate

/// `POST /v1/translate`'s body (JSON): what LibreTranslate's API cannot say. See the README's "Server" section.
struct NativeRequest: Decodable {
    /// One text or several.
    var q: Texts
    var source: String
    var target: String
    var apiKey: String?
    var beam: JSONInteger?
    var nbest: JSONInteger?
    var maxLength: JSONInteger?
    /// Shortest output in tokens, counted as `max_length` (as `xlate --min-length`).
    var minLength: JSONInteger?
    var lengthPenalty: Double?
    var noRepeatNgram: JSONInteger?
    var repetitionPenalty: Double?
    var prefix: String?
    /// Add `token_scores` (as `xlate --format json --scores`).
    var scores: Bool?
    /// `hard`, `soft` or a weight P (as `xlate --align`).
    var alignment: String?
    /// With `alignment`: also each text's alignment map as an HTML table (`alignment_html`).
    var alignmentHTML: Bool?
    /// `sentence` (default) or `none`.
    var split: String?
    /// Answer with Server-Sent Events, one per token (one text, greedy, `split: none`).
    var stream: Bool?

    enum CodingKeys: String, CodingKey {
        case q, source, target, apiKey = "api_key", beam, nbest, maxLength = "max_length", minLength = "min_length"
        case lengthPenalty = "length_penalty", noRepeatNgram = "no_repeat_ngram"
        case repetitionPenalty = "repetition_penalty", prefix, scores, alignment, alignmentHTML = "alignment_html"
        case split, stream
    }

    /// An integer field. Foundation's JSONDecoder on Linux reports a number that is no `Int` (`2.5`, `1e30`) as
    /// invalid JSON, naming no field; this names it (`min_length: must be an integer`).
    struct JSONInteger: Decodable {
        var value: Int
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            do { value = try container.decode(Int.self) } catch let error as Swift.DecodingError { throw error } catch {
                throw Swift.DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be an integer"))
            }
        }
    }

    /// A string or an array of strings.
    struct Texts: Decodable {
        var texts: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { texts = [text] } else { texts = try container.decode([String].self) }
        }
    }
}

extension TranslationServer {
    /// `POST /v1/translate`: `{"translations": [object, ...]}`, each object the one `xlate --format json` writes for
    /// the same options (plus `alignment_html` when asked); or, with `stream`, Server-Sent Events.
    func nativeTranslate(_ request: Request) async throws -> Response {
        let body = try await RequestParameters.body(of: request, maxBytes: configuration.maxBodyBytes)
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw APIError.badRequest("Invalid request: /v1/translate takes a JSON body (Content-Type: application/json)")
        }
        let parameters: NativeRequest
        do { parameters = try JSONDecoder().decode(NativeRequest.self, from: body) } catch let error as Swift.DecodingError {
            throw APIError.badRequest("Invalid request: \(Self.describe(error))")
        } catch {
            throw APIError.badRequest("Invalid JSON format")
        }
        try checkAPIKey(parameters.apiKey)
        let texts = parameters.q.texts
        if texts.isEmpty { throw APIError.missing("q") }
        try checkLimits(texts)
        let model = try self.model(source: parameters.source, target: parameters.target)

        var settings = TranslationSettings()
        settings.threads = configuration.threads
        settings.beam = parameters.beam?.value
        settings.maxLength = parameters.maxLength?.value
        settings.minLength = parameters.minLength?.value
        settings.lengthPenalty = parameters.lengthPenalty
        settings.noRepeatNgram = parameters.noRepeatNgram?.value
        settings.repetitionPenalty = parameters.repetitionPenalty
        settings.prefix = parameters.prefix
        let nbest = parameters.nbest?.value ?? 1
        // Checked here, before the library's bounds: the n-best list sizes the beam.
        guard nbest >= 1 else { throw APIError.badRequest("Invalid request: nbest must be >= 1, got \(nbest)") }
        settings.nbest = nbest
        settings.tokenScores = true  // as `xlate --format json`
        let alignment: AlignmentOutput?
        do { alignment = try parameters.alignment.map(AlignmentOutput.init(parsing:)) } catch {
            throw APIError.badRequest("Invalid request: alignment \(error.message)")
        }
        settings.alignment = alignment != nil
        switch parameters.split ?? "sentence" {
        case "sentence": settings.splitSentences = true
        case "none": settings.splitSentences = false
        case let other: throw APIError.badRequest("Invalid request: split takes sentence or none, got '\(other)'")
        }
        let options = try decodingOptions(settings, model: model)
        let scores = parameters.scores ?? false
        if parameters.stream == true { return try stream(texts, model: model, options: options, scores: scores) }

        let translations = try await translate(texts, model: model, options: options)
        let objects = translations.map { translation -> [String: Any] in
            var object = translation.jsonObject(nbest: nbest, scores: scores, alignment: alignment)
            if parameters.alignmentHTML == true, let map = translation.alignment {
                object["alignment_html"] = AlignmentRenderer.htmlTable(map)
            }
            return object
        }
        return Self.json(["translations": objects])
    }

    /// Server-Sent Events: `event: token` with `{"delta", "text", "ids"}` per generated token, then `event: done`
    /// with the translation's JSON object (`token_scores` with `scores`), or `event: error` with `{"error"}`.
    func stream(_ texts: [String], model: ModelCatalog.Model, options: TranslationOptions, scores: Bool) throws -> Response {
        guard texts.count == 1 else { throw APIError.badRequest("Invalid request: stream translates one text: give q as a string") }
        guard options.decoding.numBeams == 1, options.decoding.numReturnSequences == 1 else {
            throw APIError.badRequest("Invalid request: stream uses greedy search: give beam 1 and nbest 1")
        }
        guard !options.splitSentences else { throw APIError.badRequest("Invalid request: stream translates one segment: give split none") }
        let partials = model.translator.stream(texts[0], options: options)
        let metrics = self.metrics
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                do {
                    for try await partial in partials {
                        if let translation = partial.translation {
                            metrics.record(streamedTokens: translation.hypotheses.first?.ids.count ?? 0)
                            try await writer.write(Self.event("done", translation.jsonObject(nbest: 1, scores: scores, alignment: nil)))
                        } else {
                            try await writer.write(Self.event("token", ["delta": partial.delta, "text": partial.text, "ids": partial.ids]))
                        }
                    }
                } catch let error as DecodingError {
                    try await writer.write(Self.event("error", ["error": "Invalid request: \(error.message)"]))
                } catch {
                    try await writer.write(Self.event("error", ["error": "Cannot translate text: \(error.localizedDescription)"]))
                }
                try await writer.finish(nil)
            })
    }

    /// One Server-Sent Event.
    static func event(_ name: String, _ object: Any) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(JSONText.line(object))\n\n")
    }

    /// A JSON decoding error in a client's words: the field and what was wrong.
    static func describe(_ error: Swift.DecodingError) -> String {
        func path(_ context: Swift.DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, _): return "missing \(key.stringValue) parameter"
        case .typeMismatch(_, let context) where context.codingPath.first?.stringValue == "q":
            return "q must be a string or an array of strings"
        case .typeMismatch(let type, let context): return "\(path(context)) must be of type \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)) must be of type \(type), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "Invalid JSON format" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "Invalid JSON format"
        }
    }
}
