import Foundation

/// A whole JSON document read as strictly as the reference safetensors parser (serde_json) reads a header: a key
/// twice in one object is an error (Foundation's parsers silently keep one of the values), and a number written
/// with a fraction or exponent (`2.0`, `1e3`) is a `.double`, never an integer.
enum StrictJSON {
    enum Failure: Error, Equatable {
        case duplicateKey(String)
        /// Not JSON, or nested deeper than `maximumDepth`; `offset` is the byte where reading stopped.
        case malformed(offset: Int)
    }

    /// Deeper nesting is refused rather than recursed into (no real header nests more than three levels).
    static let maximumDepth = 64

    static func parse(_ data: Data) -> Result<JSONValue, Failure> {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<JSONValue, Failure> in
            var scanner = StrictJSONScanner(bytes: raw.bindMemory(to: UInt8.self))
            return Result { () throws(Failure) -> JSONValue in
                let value = try scanner.value(depth: 0)
                guard scanner.finished() else { throw .malformed(offset: scanner.index) }
                return value
            }
        }
    }
}

/// The byte scanner behind `VocabularyJSON` and `StrictJSON`.
struct StrictJSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func object() -> [String: Int]? {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
        guard take(UInt8(ascii: "{")) else { return nil }
        var result: [String: Int] = [:]
        if take(UInt8(ascii: "}")) { return finished() ? result : nil }
        repeat {
            skipSpace()
            guard let key = string(), take(UInt8(ascii: ":")), let value = integer() else { return nil }
            guard result.updateValue(value, forKey: key) == nil else { return nil }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { return nil }
        return finished() ? result : nil
    }

    /// Any JSON value at `index`; objects and arrays recurse up to `StrictJSON.maximumDepth`.
    mutating func value(depth: Int) throws(StrictJSON.Failure) -> JSONValue {
        skipSpace()
        guard depth < StrictJSON.maximumDepth, index < bytes.count else { throw .malformed(offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var object: [String: JSONValue] = [:]
            if take(UInt8(ascii: "}")) { return .object(object) }
            repeat {
                skipSpace()
                guard let key = string(), take(UInt8(ascii: ":")) else { throw .malformed(offset: index) }
                guard object.updateValue(try value(depth: depth + 1), forKey: key) == nil else { throw .duplicateKey(key) }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")) else { throw .malformed(offset: index) }
            return .object(object)
        case UInt8(ascii: "["):
            index += 1
            var array: [JSONValue] = []
            if take(UInt8(ascii: "]")) { return .array(array) }
            repeat { array.append(try value(depth: depth + 1)) } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")) else { throw .malformed(offset: index) }
            return .array(array)
        case UInt8(ascii: "\""):
            guard let string = string() else { throw .malformed(offset: index) }
            return .string(string)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            guard let number = number() else { throw .malformed(offset: index) }
            return number
        }
    }

    private mutating func literal(_ text: StaticString, _ value: JSONValue) throws(StrictJSON.Failure) -> JSONValue {
        let word = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        guard bytes[index...].starts(with: word) else { throw .malformed(offset: index) }
        index += word.count
        return value
    }

    /// A JSON number: `.int` when written as an integer that fits, else `.double`.
    private mutating func number() -> JSONValue? {
        let start = index
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != 0x30 else { return nil }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
            integral = false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
            integral = false
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral, let value = Int(text) { return .int(value) }
        return Double(text).map { .double($0) }
    }

    mutating func finished() -> Bool {
        skipSpace()
        return index == bytes.count
    }

    mutating func integer() -> Int? {
        skipSpace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digits = index
        var value = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            guard index - digits < 18 else { return nil }
            value = value * 10 + Int(bytes[index] - 0x30)
            index += 1
        }
        let count = index - digits
        // JSON: no leading zeros; a fraction or exponent makes it a float.
        guard count > 0, count == 1 || bytes[digits] != 0x30 else { return nil }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            return nil
        }
        return bytes[start] == UInt8(ascii: "-") ? -value : value
    }

    /// A string starting at `index` (a quote); its escapes decoded, its UTF-8 validated.
    mutating func string() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
            guard bytes[index] >= 0x20 else { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        var utf8 = Array(bytes[start..<index])
        while bytes[index] == UInt8(ascii: "\\") {
            index += 1
            guard index < bytes.count else { return nil }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(scalar) {  // a surrogate pair
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { return nil }
                    index += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: return nil
            }
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
                guard bytes[index] >= 0x20 else { return nil }
                utf8.append(bytes[index])
                index += 1
            }
            guard index < bytes.count else { return nil }
        }
        index += 1  // the closing quote
        return String(validating: utf8, as: UTF8.self)
    }

    mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
