import Foundation

/// A one-line progress display on stderr: segments done, rate and, when the input's size is known, percent done and
/// time left. Shown only when stderr is a terminal and the input is not typed at one; redrawn at most 5 times a
/// second with `\r`, and erased before other messages and at the end.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let started = DispatchTime.now()
    /// Bytes of all inputs, when every input is a regular file (or stdin redirected from one).
    private let totalBytes: Int?
    /// Lines and bytes of the chunks already translated.
    private var segmentsDone = 0
    private var bytesDone = 0
    /// The chunk being translated: its lines and bytes, and how many of its sentences of `sentences` are done.
    private var chunk = (lines: 0, bytes: 0, finished: 0, sentences: 0)
    private var lastDraw: DispatchTime?
    private var visible = false

    private init(totalBytes: Int?) { self.totalBytes = totalBytes }

    /// A progress display for these inputs ("-": stdin), or nil when none should be shown.
    static func make(inputs: [String], quiet: Bool) -> ProgressBar? {
        guard !quiet, isatty(STDERR_FILENO) == 1 else { return nil }
        var total: Int? = 0
        for path in inputs {
            var info = stat()
            if path == "-" {
                if isatty(STDIN_FILENO) == 1 { return nil }  // someone is typing: no progress to show
                let read = lseek(STDIN_FILENO, 0, SEEK_CUR)
                total = fstat(STDIN_FILENO, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && read >= 0
                    ? total.map { $0 + Int(info.st_size) - Int(read) } : nil
            } else {
                total = stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? total.map { $0 + Int(info.st_size) } : nil
            }
        }
        return ProgressBar(totalBytes: total)
    }

    /// A chunk of input lines is about to be translated.
    func begin(_ lines: [String]) {
        lock.withLock {
            chunk = (lines.count, lines.reduce(0) { $0 + $1.utf8.count + 1 }, 0, 0)
        }
    }

    /// `finished` more of the chunk's `sentences` sentences are translated (called from worker threads).
    func advance(_ finished: Int, of sentences: Int) {
        lock.withLock {
            chunk.finished += finished
            chunk.sentences = sentences
            drawIfDue()
        }
    }

    /// The chunk begun last is translated.
    func end() {
        lock.withLock {
            segmentsDone += chunk.lines
            bytesDone += chunk.bytes
            chunk = (0, 0, 0, 0)
            drawIfDue()
        }
    }

    /// Erases the line (before another message, and at the end).
    func clear() {
        lock.withLock {
            if visible { write("\r\u{1B}[K") }
            visible = false
        }
    }

    private func drawIfDue() {
        let now = DispatchTime.now()
        if let lastDraw, now.uptimeNanoseconds - lastDraw.uptimeNanoseconds < 200_000_000 { return }
        lastDraw = now
        let share = chunk.sentences > 0 ? Double(chunk.finished) / Double(chunk.sentences) : 0
        let segments = segmentsDone + Int(Double(chunk.lines) * share)
        let fraction = totalBytes.map { total in
            total > 0 ? min(1, (Double(bytesDone) + Double(chunk.bytes) * share) / Double(total)) : 1
        }
        let seconds = Double(now.uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        write("\r" + Self.line(segments: segments, seconds: seconds, fraction: fraction, width: Self.terminalWidth()) + "\u{1B}[K")
        visible = true
    }

    private func write(_ text: String) {
        writeToStandardError(text)
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }

    /// The progress line: `  37% [#######·············] 6512 segments · 52.3/s · ETA 1:23` with a known size,
    /// else `6512 segments · 52.3/s`; never wider than `width - 1` columns (a full line would wrap).
    static func line(segments: Int, seconds: Double, fraction: Double?, width: Int) -> String {
        var parts = ["\(segments) segments"]
        if seconds > 0 {
            let rate = Double(segments) / seconds
            parts.append(String(format: rate < 100 ? "%.1f/s" : "%.0f/s", rate))
        }
        guard let fraction else { return String(parts.joined(separator: " · ").prefix(max(0, width - 1))) }
        if fraction > 0, seconds > 0 { parts.append("ETA " + duration(seconds * (1 - fraction) / fraction)) }
        return bar(fraction: fraction, text: parts.joined(separator: " · "), width: width)
    }

    /// ` 42% [#####·····] text`, fitted to `width` columns (the bar left out when there is no room for 10 cells).
    static func bar(fraction: Double, text: String, width: Int) -> String {
        let percent = String(format: "%3d%%", Int(fraction * 100))
        let barWidth = min(30, width - 1 - percent.count - text.count - 4)
        guard barWidth >= 10 else { return String((percent + " " + text).prefix(max(0, width - 1))) }
        let filled = Int(fraction * Double(barWidth))
        let bar = String(repeating: "#", count: filled) + String(repeating: "·", count: barWidth - filled)
        return "\(percent) [\(bar)] \(text)"
    }

    /// `1:23`, `12:05`, `2:03:45`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
