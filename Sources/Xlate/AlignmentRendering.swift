import Foundation

/// Whether a map shows words or SentencePiece pieces.
public enum AlignmentLevel: String, Sendable, CaseIterable {
    /// Words: pieces merged, weights summed over source pieces and averaged over target pieces.
    case words
    /// SentencePiece pieces, as the model attended.
    case pieces
}

/// How a terminal heatmap is coloured.
public enum TerminalColor: String, Sendable, CaseIterable {
    /// Shade characters (`·░▒▓█`), no escape sequences: for pipes, files and `NO_COLOR`.
    case none
    /// The 256-colour palette (`ESC[48;5;Nm`), which almost every terminal has.
    case ansi256 = "256"
    /// 24-bit colour (`ESC[48;2;R;G;Bm`), for terminals that set `COLORTERM=truecolor`.
    case truecolor
}

/// One sentence to draw: its source, its translation, and its alignment under one or more attention choices
/// (`views`, the first shown first).
public struct AlignmentMap: Sendable {
    /// One attention read-out of the translation.
    public struct View: Sendable {
        /// What the attention is, e.g. "layer 2 · all heads".
        public var label: String
        /// The alignment drawn.
        public var alignment: Alignment

        /// A view named `label` showing `alignment`.
        public init(label: String, alignment: Alignment) {
            self.label = label
            self.alignment = alignment
        }
    }

    /// The source text.
    public var source: String
    /// Its translation.
    public var translation: String
    /// The read-outs to choose from; the first is shown first.
    public var views: [View]

    /// A map of `source` and `translation` with at least one view.
    public init(source: String, translation: String, views: [View]) {
        precondition(!views.isEmpty, "a map needs at least one view")
        self.source = source
        self.translation = translation
        self.views = views
    }
}

extension CrossAttentionRequest {
    /// "layer 2 · all heads", "layer 1 · head 4", "layer 2 · heads 0,5".
    public var label: String {
        guard let heads else { return "layer \(layer) · all heads" }
        return "layer \(layer) · head\(heads.count == 1 ? "" : "s") \(heads.map(String.init).joined(separator: ","))"
    }
}

/// Draws alignments: a terminal heatmap, SVG, and a self-contained HTML page.
///
/// Rows are target words (or pieces), columns source words (or pieces); colour is the attention weight on the
/// viridis scale (dark 0 → yellow 1); a dot marks each row's strongest cell (for words, the hard link).
public enum AlignmentRenderer {
    // MARK: Terminal

    /// A heatmap for a terminal `width` columns wide: labels are cut (with `…`) to fit, then cells narrowed; source
    /// columns that still do not fit are left out and said so. Every character counts as one column (wide CJK
    /// characters in labels will push their row out of line).
    public static func terminal(
        _ alignment: Alignment, level: AlignmentLevel = .words, width: Int = 100, color: TerminalColor = .ansi256
    ) -> String {
        let grid = Grid(alignment, level: level)
        let rowLabels = grid.rows.map(terminalSafe)
        let columnLabels = grid.columns.map(terminalSafe)
        let longestRow = rowLabels.map(\.count).max() ?? 0
        var labelWidth = min(longestRow, 16)
        var cell = 2
        func fits(_ columns: Int) -> Bool { labelWidth + 1 + columns * cell <= width }
        while !fits(columnLabels.count), labelWidth > 4 { labelWidth -= 1 }
        if !fits(columnLabels.count) { cell = 1 }
        let shown = fits(columnLabels.count) ? columnLabels.count : max(1, (width - labelWidth - 1) / cell)

        var out = ""
        let labelHeight = min(columnLabels.prefix(shown).map(\.count).max() ?? 0, 10)
        let indent = String(repeating: " ", count: labelWidth + 1)
        for line in 0..<labelHeight {
            var text = indent
            for label in columnLabels.prefix(shown) {
                // Written downwards, ending just above the grid; cut labels end in "…".
                let cut = truncate(label, labelHeight)
                let index = line - (labelHeight - cut.count)
                let character = index >= 0 ? String(Array(cut)[index]) : " "
                text += character + String(repeating: " ", count: cell - 1)
            }
            out += trimTrailing(text) + "\n"
        }
        for (r, label) in rowLabels.enumerated() {
            out += pad(truncate(label, labelWidth), labelWidth) + " "
            for c in 0..<shown {
                out += terminalCell(grid.weights[r][c], hard: grid.best[r] == c, width: cell, color: color)
            }
            out += "\n"
        }
        if shown < columnLabels.count {
            out += "(\(columnLabels.count - shown) of \(columnLabels.count) source \(level.rawValue) not shown)\n"
        }
        out += legend(color) + "\n"
        return out
    }

    private static func terminalCell(_ weight: Float, hard: Bool, width: Int, color: TerminalColor) -> String {
        let (r, g, b) = heatColor(weight)
        let dot = hard ? "●" : " "
        let text = dot + String(repeating: " ", count: width - 1)
        let foreground = isLight(weight) ? "30" : "97"
        switch color {
        case .none:
            let shades: [Character] = ["·", "░", "▒", "▓", "█"]
            let shade = shades[weight < 0.1 ? 0 : weight < 0.3 ? 1 : weight < 0.5 ? 2 : weight < 0.7 ? 3 : 4]
            return String(repeating: shade, count: width)
        case .ansi256:
            return "\u{1B}[\(foreground);48;5;\(ansi256(r, g, b))m\(text)\u{1B}[0m"
        case .truecolor:
            return "\u{1B}[\(foreground);48;2;\(r);\(g);\(b)m\(text)\u{1B}[0m"
        }
    }

    private static func legend(_ color: TerminalColor) -> String {
        if color == .none { return "· <0.1  ░ <0.3  ▒ <0.5  ▓ <0.7  █ ≥0.7" }
        let ramp = (0...9).map { terminalCell(Float($0) / 9, hard: false, width: 1, color: color) }.joined()
        return "0 \(ramp) 1  ● hard link"
    }

    /// Control characters would move the cursor or start escape sequences: show them as `�`.
    private static func terminalSafe(_ label: String) -> String {
        String(label.map { $0.unicodeScalars.contains { $0.properties.generalCategory == .control } ? "\u{FFFD}" : $0 })
    }

    private static func trimTrailing(_ text: String) -> String {
        String(text.reversed().drop { $0 == " " }.reversed())
    }

    private static func truncate(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(0, limit - 1))) + "…"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    // MARK: SVG

    /// One SVG image with the first view of each map, stacked; each cell has a `<title>` with its exact weight.
    public static func svg(_ maps: [AlignmentMap], level: AlignmentLevel = .words) -> String {
        // Monospace advance at 12 px (labels) and 13 px (captions).
        let cell = 22.0, charWidth = 7.4, captionCharWidth = 8.0, titleHeight = 24.0, gap = 28.0
        var body = ""
        var y = 10.0, width = 200.0
        for (number, map) in maps.enumerated() {
            let grid = Grid(map.views[0].alignment, level: level)
            let rowLabels = grid.rows.map { truncate($0, 24) }
            let columnLabels = grid.columns.map { truncate($0, 24) }
            let left = 10 + charWidth * Double(rowLabels.map(\.count).max() ?? 0) + 8
            let top = titleHeight + charWidth * Double(columnLabels.map(\.count).max() ?? 0) + 8
            let caption = "\(number + 1). \(map.source) → \(map.translation) (\(map.views[0].label))"
            body += "<g transform=\"translate(0,\(format(y)))\">\n"
            body += "<text class=\"caption\" x=\"10\" y=\"16\">\(escape(caption))</text>\n"
            for (c, label) in columnLabels.enumerated() {
                let x = left + Double(c) * cell + cell / 2 + 4
                body += "<text class=\"label\" transform=\"translate(\(format(x)),\(format(top - 6))) rotate(-90)\">\(escape(label))</text>\n"
            }
            for (r, label) in rowLabels.enumerated() {
                let rowY = top + Double(r) * cell
                body += "<text class=\"label\" x=\"\(format(left - 6))\" y=\"\(format(rowY + cell / 2 + 4))\" text-anchor=\"end\">\(escape(label))</text>\n"
                for c in grid.columns.indices {
                    let weight = grid.weights[r][c]
                    let (red, green, blue) = heatColor(weight)
                    let x = left + Double(c) * cell
                    body += "<rect x=\"\(format(x))\" y=\"\(format(rowY))\" width=\"\(format(cell - 1))\" height=\"\(format(cell - 1))\" fill=\"rgb(\(red),\(green),\(blue))\">"
                        + "<title>\(escape(grid.rows[r])) ← \(escape(grid.columns[c])): \(String(format: "%.4f", weight))</title></rect>\n"
                    if grid.best[r] == c {
                        body += "<circle cx=\"\(format(x + (cell - 1) / 2))\" cy=\"\(format(rowY + (cell - 1) / 2))\" r=\"3.5\" fill=\"\(isLight(weight) ? "#000" : "#fff")\"/>\n"
                    }
                }
            }
            body += "</g>\n"
            width = max(width, left + Double(grid.columns.count) * cell + 10, 20 + captionCharWidth * Double(caption.count))
            y += top + Double(grid.rows.count) * cell + gap
        }
        let height = y - gap + 10
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" viewBox="0 0 \(format(width)) \(format(height))">
            <style>text { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; fill: #222; } .caption { font-size: 13px; }</style>
            <rect width="100%" height="100%" fill="#fff"/>
            \(body)</svg>

            """
    }

    // MARK: HTML

    /// A self-contained page (no network): one map per sentence, exact weights on hover, a choice of words or
    /// pieces, and a choice of view when a map has several.
    public static func html(_ maps: [AlignmentMap], title: String = "xlate alignment") -> String {
        var sections = ""
        for (number, map) in maps.enumerated() {
            sections += "<section class=\"sentence\" id=\"s\(number + 1)\">\n"
            sections += "<h2>\(number + 1)</h2>\n"
            sections += "<p class=\"src\"><span class=\"key\">source</span> \(escape(map.source))</p>\n"
            sections += "<p class=\"tgt\"><span class=\"key\">translation</span> \(escape(map.translation))</p>\n"
            sections += "<p class=\"controls\">"
            if map.views.count > 1 {
                sections += "<label>attention <select class=\"view\">"
                for (v, view) in map.views.enumerated() {
                    sections += "<option value=\"\(v)\"\(v == 0 ? " selected=\"selected\"" : "")>\(escape(view.label))</option>"
                }
                sections += "</select></label> "
            } else {
                sections += "<span class=\"view-label\">\(escape(map.views[0].label))</span> "
            }
            sections += "<label>level <select class=\"level\"><option value=\"words\" selected=\"selected\">words</option>"
                + "<option value=\"pieces\">pieces</option></select></label></p>\n"
            sections += "<p class=\"readout\">hover a cell for its weight</p>\n"
            for (v, view) in map.views.enumerated() {
                for level in AlignmentLevel.allCases {
                    sections += table(Grid(view.alignment, level: level), view: v, level: level, shown: v == 0 && level == .words)
                }
            }
            sections += "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(escape(title))</title>
            <style>
            body { font-family: system-ui, "DejaVu Sans", sans-serif; margin: 24px; color: #222; }
            h1 { font-size: 20px; } h2 { font-size: 15px; margin: 20px 0 4px; color: #666; }
            section.sentence { margin: 0 0 36px; }
            p { margin: 2px 0; } .key { display: inline-block; width: 6.5em; color: #777; font-size: 13px; }
            .controls { margin: 6px 0; font-size: 13px; } .controls label { margin-right: 12px; }
            .readout { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; min-height: 1.4em; color: #333; }
            table.map { border-collapse: collapse; margin-top: 6px; }
            table.map td { width: 22px; height: 22px; min-width: 22px; padding: 0; border: 1px solid #fff; text-align: center; }
            table.map td.hard::after { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: #fff; }
            table.map td.hard.light::after { background: #000; }
            table.map th { font-weight: normal; font-size: 13px; white-space: nowrap; }
            table.map tbody th { text-align: right; padding: 0 8px 0 0; }
            table.map thead th { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; padding: 6px 0 0; }
            table.map th.on { background: #ffe08a; }
            table.map td:hover { outline: 2px solid #e4572e; }
            </style>
            </head>
            <body>
            <h1>\(escape(title))</h1>
            <p class="note">Rows: target, columns: source. Colour: cross-attention weight (dark 0 … yellow 1); dot: each row’s strongest cell (for words, the hard link; pieces include <code>&lt;/s&gt;</code>). Word weights are summed over a source word’s pieces and averaged over a target word’s pieces.</p>
            \(sections)<script>
            //<![CDATA[ (the page is also well-formed XML)
            for (const section of document.querySelectorAll("section.sentence")) {
              const view = section.querySelector("select.view");
              const level = section.querySelector("select.level");
              const readout = section.querySelector(".readout");
              const show = function () {
                for (const table of section.querySelectorAll("table.map")) {
                  table.hidden = !(table.dataset.view === (view ? view.value : "0") && table.dataset.level === level.value);
                }
              };
              for (const select of section.querySelectorAll("select")) select.addEventListener("change", show);
              section.addEventListener("mouseover", function (event) {
                const cell = event.target.closest("td");
                for (const header of section.querySelectorAll("th.on")) header.classList.remove("on");
                if (!cell) return;
                const row = cell.parentElement.firstElementChild;
                const column = cell.closest("table").tHead.rows[0].cells[cell.cellIndex];
                readout.textContent = row.textContent + " ← " + column.textContent + ": " + cell.title;
                row.classList.add("on");
                column.classList.add("on");
              });
            }
            //]]>
            </script>
            </body>
            </html>

            """
    }

    /// One alignment map as an HTML `<table class="map">` fragment, as the page of ``html(_:title:)`` draws it:
    /// rows are target words (`tbody th`), columns source words (`thead th`), each cell's `title` its weight, and the
    /// hard link's cell of each row has the class `hard`. For pages that style and script it themselves (`xlate
    /// serve`'s translate page).
    public static func htmlTable(_ alignment: Alignment, level: AlignmentLevel = .words) -> String {
        table(Grid(alignment, level: level), view: 0, level: level, shown: true)
    }

    private static func table(_ grid: Grid, view: Int, level: AlignmentLevel, shown: Bool) -> String {
        var html = "<table class=\"map\" data-view=\"\(view)\" data-level=\"\(level.rawValue)\"\(shown ? "" : " hidden=\"hidden\"")>\n<thead><tr><th></th>"
        for label in grid.columns { html += "<th>\(escape(label))</th>" }
        html += "</tr></thead>\n<tbody>\n"
        for (r, label) in grid.rows.enumerated() {
            html += "<tr><th>\(escape(label))</th>"
            for (c, weight) in grid.weights[r].enumerated() {
                // Kept short (a page holds every view): the weight is the title; the page's script adds the labels.
                let (red, green, blue) = heatColor(weight)
                let hard = grid.best[r] == c ? " class=\"hard\(isLight(weight) ? " light" : "")\"" : ""
                html += "<td\(hard) style=\"background:#\(String(format: "%02x%02x%02x", red, green, blue))\" title=\"\(String(format: "%.4f", weight))\"></td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    // MARK: Shared

    /// Escapes text for XML and HTML, in text and in attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // XML 1.0 forbids most control characters even as references; show them as U+FFFD.
                let forbidden = character.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r" }
                out += forbidden ? "\u{FFFD}" : String(character)
            }
        }
        return out
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Viridis (matplotlib's perceptually uniform map) at `weight` in 0...1, from five anchors.
    static func heatColor(_ weight: Float) -> (Int, Int, Int) {
        let anchors: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let t = Double(min(max(weight, 0), 1)) * Double(anchors.count - 1)
        let i = min(Int(t), anchors.count - 2)
        let f = t - Double(i)
        func mix(_ a: Double, _ b: Double) -> Int { Int((a + (b - a) * f).rounded()) }
        return (mix(anchors[i].0, anchors[i + 1].0), mix(anchors[i].1, anchors[i + 1].1), mix(anchors[i].2, anchors[i + 1].2))
    }

    /// Whether the cell colour is light enough for black text.
    private static func isLight(_ weight: Float) -> Bool { weight >= 0.6 }

    /// The nearest colour of the 256-colour palette's 6×6×6 cube.
    private static func ansi256(_ r: Int, _ g: Int, _ b: Int) -> Int {
        let levels = [0, 95, 135, 175, 215, 255]
        func nearest(_ v: Int) -> Int { levels.indices.min { abs(levels[$0] - v) < abs(levels[$1] - v) }! }
        return 16 + 36 * nearest(r) + 6 * nearest(g) + nearest(b)
    }
}

/// What a map draws: row (target) and column (source) labels, weights, and each row's strongest column.
struct Grid {
    var rows: [String]
    var columns: [String]
    /// `[rows][columns]`
    var weights: [[Float]]
    /// The column marked in each row: words, the hard link (`Alignment.hardLinks`); pieces, the strongest cell
    /// (nil: the row has no columns).
    var best: [Int?]

    init(_ alignment: Alignment, level: AlignmentLevel) {
        switch level {
        case .words:
            rows = alignment.targetWords.map(\.text)
            columns = alignment.sourceWords.map(\.text)
            weights = alignment.wordMatrix
            best = Array(repeating: nil, count: rows.count)
            for link in alignment.hardLinks { best[link.target] = link.source }
        case .pieces:
            rows = alignment.targetPieces
            columns = alignment.sourcePieces
            weights = alignment.pieceMatrix
            // Every column is drawn, `</s>` included (a row often attends to it most): the mark goes on the row's
            // strongest cell, as the colours show it (the first of equal ones).
            best = weights.map { row in row.indices.max { row[$0] < row[$1] } }
        }
    }
}
