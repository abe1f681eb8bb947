import ArgumentParser
import Foundation
import Xlate
import XlateHub

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model from the Hugging Face Hub into xlate's cache.",
        discussion: """
            Fetches only the files xlate loads (config.json, generation_config.json, model.safetensors or its \
            shards, else pytorch_model.bin, and the tokenizer files) into ~/.cache/xlate/models/OWNER--NAME, \
            where --src/--tgt find a model whose name ends in -SRC-TGT. Each file is checked against the hub's size \
            and SHA-256; run the command again after an interruption and it resumes where it stopped. A model \
            already downloaded at the same commit is not fetched again. Prints the model folder on stdout; a \
            progress line on stderr when it is a terminal (not with -q/--quiet).

            ENVIRONMENT
              HF_ENDPOINT     the hub (default https://huggingface.co), e.g. a mirror
              HF_TOKEN        an access token, for private and gated models
              HF_HUB_OFFLINE  1: no network; succeed only if the model is in the cache
              XLATE_CACHE     replaces ~/.cache/xlate

            EXAMPLES
              xlate download Helsinki-NLP/opus-mt-fr-en
              xlate --src fr --tgt en < news.fr             # finds it in the cache
              xlate --src fr --tgt en --download < news.fr  # downloads it first if missing
              xlate download Helsinki-NLP/opus-mt-de-en --revision main
              xlate --model "$(xlate download google-t5/t5-small)" -s en -t de < in.txt
              # multilingual: facebook/nllb-200-distilled-600M, facebook/m2m100_418M,
              # facebook/mbart-large-50-many-to-many-mmt (any pair of their languages)
              xlate --model "$(xlate download facebook/m2m100_418M)" -s de -t it < in.txt

            EXIT STATUS
              0 success · 2 no such repository or revision · 64 usage error
              5 download failed (network, access, checksum, offline without a cached copy)
            """)

    @Argument(help: ArgumentHelp("The model's repository, e.g. Helsinki-NLP/opus-mt-fr-en.", valueName: "repo-id"))
    var repository: String

    @Option(help: "Branch, tag or commit.")
    var revision = "main"

    /// --quiet is the root command's option, parsed wherever it appears.
    @ParentCommand var translate: Translate

    func validate() throws {
        do { _ = try HubRepository(repository) } catch { throw ValidationError(error.localizedDescription) }
    }

    func run() throws {
        print(try downloadModel(repository, revision: revision, quiet: translate.input.quiet).directory.path)
    }
}

/// For `--download`: the folder of `Helsinki-NLP/opus-mt-SRC-TGT`, downloaded now, when no local model serves the
/// pair; nil when one does (or no pair is given), so that the usual resolution finds it.
func downloadedModelForPair(source: String?, target: String?, quiet: Bool) throws -> String? {
    guard let source, let target else { return nil }
    do {
        _ = try ModelResolver().resolve(source: source, target: target)
        return nil
    } catch {
        let repository = HubRepository.opusMTID(source: source, target: target)
        if !quiet { printError("no local model for \(source) → \(target): downloading \(repository)") }
        let hint = "not every pair has an OPUS-MT model of its own: look for one that covers \(source) → \(target) on "
            + "https://huggingface.co/Helsinki-NLP, fetch it with 'xlate download OWNER/NAME' and pass its folder with --model"
        return try downloadModel(repository, revision: "main", quiet: quiet, ifNotFound: hint).directory.path
    }
}

/// Downloads with a progress line and a summary on stderr, or throws the `HubError` (after saying `hint` when the
/// repository does not exist; `Failure` gives the status).
func downloadModel(_ repository: String, revision: String, quiet: Bool, ifNotFound hint: String? = nil) throws -> HubDownload {
    let progress = DownloadProgress.make(quiet: quiet)
    let result = waitFor { () async throws(HubError) -> HubDownload in
        try await HubClient().download(repository, revision: revision, progress: progress?.update)
    }
    progress?.clear()
    switch result {
    case .success(let download):
        if !quiet { printError(summary(download)) }
        return download
    case .failure(let error):
        if case .repositoryNotFound = error, let hint { printError(hint) }
        throw error
    }
}

private func summary(_ download: HubDownload) -> String {
    let commit = String(download.commit.prefix(7))
    var text = download.fromCache
        ? "\(download.repository) (commit \(commit)) is already in \(download.directory.path)"
        : "downloaded \(download.repository) (commit \(commit), \(download.files.count) files, "
            + "\(DownloadProgress.megabytes(download.bytesDownloaded)) MB) to \(download.directory.path)"
    if download.files.contains("pytorch_model.bin") {
        text += "\nxlate: its weights are pytorch_model.bin; `xlate convert \(download.directory.path)` writes model.safetensors, "
            + "which loads faster"
    }
    return text
}

/// Runs a download to its end from the CLI's synchronous commands.
private func waitFor(_ operation: @escaping @Sendable () async throws(HubError) -> HubDownload) -> Result<HubDownload, HubError> {
    let box = ResultBox()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do throws(HubError) { box.result = .success(try await operation()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()  // the semaphore orders the task's write before this read
    return box.result!
}

private final class ResultBox: @unchecked Sendable {
    var result: Result<HubDownload, HubError>?
}

/// The download's progress line on stderr, shown only when stderr is a terminal and redrawn at most 5 times a
/// second: `  37% [#########···············] 112.4 of 301.2 MB · 25.1 MB/s · ETA 0:07 · model.safetensors`.
final class DownloadProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let started = DispatchTime.now()
    /// Bytes on disk at the first report (resumed from an earlier run): not counted in the rate.
    private var baseline: Int?
    private var lastDraw: DispatchTime?
    private var visible = false

    private init() {}

    static func make(quiet: Bool) -> DownloadProgress? {
        quiet || isatty(STDERR_FILENO) != 1 ? nil : DownloadProgress()
    }

    func update(_ progress: HubDownloadProgress) {
        lock.withLock {
            let now = DispatchTime.now()
            if baseline == nil { baseline = progress.bytes }
            if let lastDraw, now.uptimeNanoseconds - lastDraw.uptimeNanoseconds < 200_000_000 { return }
            lastDraw = now
            let seconds = Double(now.uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            var size = winsize()
            let width = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
            let rate = Double(progress.bytes - (baseline ?? 0)) / max(seconds, 1e-3)
            let line = Self.line(progress, bytesPerSecond: rate, width: width)
            writeToStandardError("\r" + line + "\u{1B}[K")
            visible = true
        }
    }

    /// Erases the line.
    func clear() {
        lock.withLock {
            if visible { writeToStandardError("\r\u{1B}[K") }
            visible = false
        }
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }

    /// The progress line, never wider than `width - 1` columns.
    static func line(_ progress: HubDownloadProgress, bytesPerSecond: Double, width: Int) -> String {
        let fraction = progress.totalBytes > 0 ? min(1, Double(progress.bytes) / Double(progress.totalBytes)) : 0
        var parts = [
            "\(megabytes(progress.bytes)) of \(megabytes(progress.totalBytes)) MB", "\(megabytes(Int(bytesPerSecond))) MB/s",
        ]
        if bytesPerSecond > 0 {
            parts.append("ETA " + ProgressBar.duration(Double(progress.totalBytes - progress.bytes) / bytesPerSecond))
        }
        parts.append(progress.file)
        return ProgressBar.bar(fraction: fraction, text: parts.joined(separator: " · "), width: width)
    }
}
