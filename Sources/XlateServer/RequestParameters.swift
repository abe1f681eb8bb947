import Foundation
import Hummingbird
import NIOCore
import Xlate

/// An error answered as LibreTranslate answers errors: `{"error": "..."}` with an HTTP status.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }

    /// LibreTranslate's words for a missing parameter.
    static func missing(_ name: String) -> APIError { .badRequest("Invalid request: missing \(name) parameter") }

    /// The JSON response.
    var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: JSONText.line(["error": message]))))
    }
}

/// A request's parameters, from whichever encoding it came in: a JSON object body (`Content-Type:
/// application/json`), else the query string and a form body (`application/x-www-form-urlencoded`), the query
/// first, as Flask's `request.values` reads them. A GET may carry a form body (libretranslatepy sends one).
struct RequestParameters {
    /// The JSON body, when the request is JSON.
    let json: [String: Any]?
    /// Query and form fields (the first of repeated names).
    let form: [String: String]

    var isJSON: Bool { json != nil }

    /// Reads the body (at most `maxBytes`) and the query.
    ///
    /// - Throws: `APIError` 413 for a larger body, 400 for a JSON body that is not an object.
    static func read(_ request: Request, maxBytes: Int) async throws -> RequestParameters {
        let body = try await Self.body(of: request, maxBytes: maxBytes)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) } catch {
                throw APIError.badRequest("Invalid JSON format")
            }
            guard let dictionary = object as? [String: Any] else { throw APIError.badRequest("Invalid JSON format") }
            return RequestParameters(json: dictionary, form: [:])
        }
        var form = formFields(request.uri.query ?? "")
        if !body.isEmpty, contentType.isEmpty || contentType.hasPrefix("application/x-www-form-urlencoded") {
            for (name, value) in formFields(String(decoding: body, as: UTF8.self)) where form[name] == nil {
                form[name] = value
            }
        }
        return RequestParameters(json: nil, form: form)
    }

    /// The body, refused with 413 past `maxBytes` (reading stops there).
    static func body(of request: Request, maxBytes: Int) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: maxBytes)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError(status: .contentTooLarge, message: "Invalid request: the body is larger than \(maxBytes) bytes")
        }
    }

    /// `a=1&b=x+y%21` → ["a": "1", "b": "x y!"]; the first of repeated names wins.
    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }

    /// A string parameter; nil when absent, JSON null or empty (LibreTranslate's `if not value`).
    func string(_ name: String) throws -> String? {
        if let json {
            guard let value = json[name], !(value is NSNull) else { return nil }
            guard let string = value as? String else {
                throw APIError.badRequest("Invalid request: \(name) parameter must be a string")
            }
            return string.isEmpty ? nil : string
        }
        return form[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `q`: one text or (JSON only) an array of texts; nil when missing or empty. A form's text has its line breaks
    /// made `\n` (Python's `splitlines`, as LibreTranslate does, which also drops a final line break).
    func texts() throws -> (texts: [String], isArray: Bool)? {
        if let json {
            switch json["q"] {
            case nil, is NSNull: return nil
            case let text as String: return text.isEmpty ? nil : ([text], false)
            case let array as [Any]:
                if array.isEmpty { return nil }
                let texts = array.compactMap { $0 as? String }
                guard texts.count == array.count else {
                    throw APIError.badRequest("Invalid request: q parameter must be a string or an array of strings")
                }
                return (texts, true)
            default: throw APIError.badRequest("Invalid request: q parameter must be a string or an array of strings")
            }
        }
        guard let text = form["q"], !text.isEmpty else { return nil }
        return ([Self.pythonLines(text).joined(separator: "\n")], false)
    }

    /// An integer parameter (a JSON number or a numeral string, as Python's `int()` takes); nil when absent.
    func integer(_ name: String) throws -> Int? {
        let value: Any?
        if let json { value = json[name] } else { value = form[name] }
        switch value {
        case nil, is NSNull: return nil
        case let text as String:
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.badRequest("Invalid request: \(name) parameter is not a number")
            }
            return number
        case let number as NSNumber:
            guard let integer = Int(exactly: number.doubleValue) else {
                throw APIError.badRequest("Invalid request: \(name) parameter is not a number")
            }
            return integer
        default: throw APIError.badRequest("Invalid request: \(name) parameter is not a number")
        }
    }

    /// The lines of `text` as Python's `str.splitlines()` cuts them.
    static func pythonLines(_ text: String) -> [String] {
        let breaks: Set<Unicode.Scalar> = ["\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}"]
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = scalars.next()
        while let scalar = pending {
            pending = scalars.next()
            if breaks.contains(scalar) {
                if scalar == "\r", pending == "\n" { pending = scalars.next() }
                lines.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }
}
