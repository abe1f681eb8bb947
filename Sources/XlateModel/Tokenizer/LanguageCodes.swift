/// The languages of a multilingual model: its language tokens (`__en__` for M2M100, `eng_Latn` for NLLB-200, `en_XX`
/// for mBART-50) with their ids, and how ISO 639-1 codes (`en`, `de`, `fr`) map onto them.
public struct LanguageCodes: Sendable, Equatable {
    /// How the model spells a language: M2M100's codes are ISO 639-1 (or 639-3 where none exists) written as
    /// `__code__` tokens; NLLB's are ISO 639-3 + script (`fra_Latn`); mBART-50's ISO 639-1 + region (`fr_XX`).
    public enum Style: Sendable, Equatable {
        case m2m100, nllb, mbart50
    }

    public let style: Style
    /// The model's codes, in token-id order (M2M100: `en`, not the token `__en__`).
    public let codes: [String]
    /// code → the id of its token.
    public let tokenIds: [String: Int]

    public init(style: Style, codes: [String], tokenIds: [String: Int]) {
        (self.style, self.codes, self.tokenIds) = (style, codes, tokenIds)
    }

    /// The token that stands for `code` in the text (`__en__` for M2M100's `en`; the code itself otherwise).
    public func token(for code: String) -> String { style == .m2m100 ? "__\(code)__" : code }

    /// The model's code for `language`: one of its own codes as is, or an ISO 639-1 code (`de` → `deu_Latn`,
    /// `de_DE`, `de`). Nil when the model does not know the language.
    public func code(for language: String) -> String? {
        if tokenIds[language] != nil { return language }
        let iso = language.lowercased()
        switch style {
        case .m2m100:
            return tokenIds[iso] != nil ? iso : nil
        case .mbart50:
            return codes.first { $0.hasPrefix(iso + "_") }
        case .nllb:
            // The first script in id order where a language has several (zho_Hans before zho_Hant).
            guard let iso3 = Self.iso639_3[iso] else { return nil }
            return codes.first { $0.hasPrefix(iso3 + "_") }
        }
    }

    /// The ISO 639-1 codes the model serves (each model code that one maps to), sorted; with `unmapped`, the
    /// model's codes that no ISO 639-1 code reaches.
    public var isoCodes: (mapped: [String], unmapped: [String]) {
        var reached = Set<String>()
        var mapped: [String] = []
        let candidates = style == .nllb ? Array(Self.iso639_3.keys) : codes.map { String($0.prefix { $0 != "_" }) }
        for iso in Set(candidates).sorted() where iso.count == 2 {
            if let code = code(for: iso), !reached.contains(code) {
                reached.insert(code)
                mapped.append(iso)
            }
        }
        return (mapped, codes.filter { !reached.contains($0) })
    }

    /// ISO 639-1 → the ISO 639-3 code NLLB-200 uses for it (its individual language where 639-1 names a macrolanguage:
    /// Arabic `arb`, Persian `pes`, Malay `zsm`, Swahili `swh`, Latvian `lvs`, Mongolian `khk`, Uzbek `uzn`, Nepali
    /// `npi`, Oromo `gaz`, Pashto `pbt`, Albanian `als`, Malagasy `plt`, Azerbaijani `azj`, Quechua `quy`).
    static let iso639_3: [String: String] = [
        "af": "afr", "ak": "aka", "am": "amh", "ar": "arb", "as": "asm", "ay": "ayr", "az": "azj", "ba": "bak",
        "be": "bel", "bg": "bul", "bm": "bam", "bn": "ben", "bo": "bod", "bs": "bos", "ca": "cat", "cs": "ces",
        "cy": "cym", "da": "dan", "de": "deu", "dz": "dzo", "ee": "ewe", "el": "ell", "en": "eng", "eo": "epo",
        "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "ff": "fuv", "fi": "fin", "fj": "fij", "fo": "fao",
        "fr": "fra", "ga": "gle", "gd": "gla", "gl": "glg", "gn": "grn", "gu": "guj", "ha": "hau", "he": "heb",
        "hi": "hin", "hr": "hrv", "ht": "hat", "hu": "hun", "hy": "hye", "id": "ind", "ig": "ibo", "is": "isl",
        "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kg": "kon", "ki": "kik", "kk": "kaz", "km": "khm",
        "kn": "kan", "ko": "kor", "kr": "knc", "ks": "kas", "ku": "kmr", "ky": "kir", "lb": "ltz", "lg": "lug",
        "li": "lim", "ln": "lin", "lo": "lao", "lt": "lit", "lv": "lvs", "mg": "plt", "mi": "mri", "mk": "mkd",
        "ml": "mal", "mn": "khk", "mr": "mar", "ms": "zsm", "mt": "mlt", "my": "mya", "nb": "nob", "ne": "npi",
        "nl": "nld", "nn": "nno", "no": "nob", "ny": "nya", "oc": "oci", "om": "gaz", "or": "ory", "pa": "pan",
        "pl": "pol", "ps": "pbt", "pt": "por", "qu": "quy", "rn": "run", "ro": "ron", "ru": "rus", "rw": "kin",
        "sa": "san", "sc": "srd", "sd": "snd", "sg": "sag", "si": "sin", "sk": "slk", "sl": "slv", "sm": "smo",
        "sn": "sna", "so": "som", "sq": "als", "sr": "srp", "ss": "ssw", "st": "sot", "su": "sun", "sv": "swe",
        "sw": "swh", "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha", "ti": "tir", "tk": "tuk", "tl": "tgl",
        "tn": "tsn", "tr": "tur", "ts": "tso", "tt": "tat", "tw": "twi", "ug": "uig", "uk": "ukr", "ur": "urd",
        "uz": "uzn", "vi": "vie", "wo": "wol", "xh": "xho", "yi": "ydd", "yo": "yor", "zh": "zho", "zu": "zul",
    ]

    /// transformers' `M2M100Tokenizer` language lists (`language_codes` in tokenizer_config.json): its tokens take
    /// the ids after vocab.json's, in this order.
    static let m2m100Codes: [String: [String]] = [
        "m2m100": """
            af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu ha he hi hr ht hu \
            hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr ms my ne nl no ns oc or pa pl ps pt \
            ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk ur uz vi wo xh yi yo zh zu
            """.split(separator: " ").map(String.init),
        "wmt21": ["en", "ha", "is", "ja", "cs", "ru", "zh", "de"],
    ]
}
