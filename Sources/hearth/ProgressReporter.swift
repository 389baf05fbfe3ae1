import Foundation
import Store
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws pull progress on stderr. On a terminal: one line redrawn in place with `\r` (at most
/// ten times a second) showing phase, bar, percent, bytes, rate and ETA. Elsewhere (a log, CI):
/// a plain line at every 10% step or every five seconds, whichever comes first.
final class ProgressReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastLine = Date.distantPast
    private var lastDecile = -1
    private var lastPhase = ""
    private var drewLine = false
    private var latest: PullProgress?
    /// Recent (time, bytes) samples: the rate is measured over the last few seconds.
    private var samples: [(time: Date, bytes: Int64)] = []

    init(isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        self.isTerminal = isTerminal
    }

    func report(_ progress: PullProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        latest = progress
        if let last = samples.last, progress.bytesDone < last.bytes { samples.removeAll() }  // restarted
        samples.append((now, progress.bytesDone))
        // Keep the last five seconds of samples (and always the two newest).
        let cutoff = now.addingTimeInterval(-5)
        let firstRecent = samples.firstIndex { $0.time >= cutoff } ?? samples.count
        let dropCount = min(firstRecent, samples.count - 2)
        if dropCount > 0 { samples.removeFirst(dropCount) }
        let phaseChanged = progress.phase != lastPhase
        lastPhase = progress.phase
        if isTerminal {
            guard phaseChanged || now.timeIntervalSince(lastDraw) >= 0.1 || progress.bytesDone == progress.bytesTotal else {
                return
            }
            lastDraw = now
            drawTerminalLine(progress)
        } else {
            let decile = progress.bytesTotal.map { $0 > 0 ? Int(progress.bytesDone * 10 / $0) : 10 } ?? -1
            guard decile != lastDecile || now.timeIntervalSince(lastLine) >= 5 else { return }
            lastDecile = decile
            lastLine = now
            writeStderr(plainLine(progress) + "\n")
        }
    }

    /// Ends the progress line so that what follows starts on a fresh line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if isTerminal, drewLine {
            if let latest { drawTerminalLine(latest) }
            writeStderr("\n")
            drewLine = false
        }
    }

    // MARK: - formatting

    private var bytesPerSecond: Double? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let seconds = last.time.timeIntervalSince(first.time)
        guard seconds >= 0.5 else { return nil }
        return Double(last.bytes - first.bytes) / seconds
    }

    private func statistics(_ progress: PullProgress) -> (percent: String, bytes: String, rate: String, eta: String) {
        let done = ByteCount.format(progress.bytesDone)
        var percent = ""
        var bytes = done
        var eta = ""
        let rate = bytesPerSecond
        if let total = progress.bytesTotal, total > 0 {
            percent = String(format: "%3d%%", Int(min(100, progress.bytesDone * 100 / total)))
            bytes = "\(done)/\(ByteCount.format(total))"
            if let rate, rate > 0, progress.bytesDone < total {
                eta = "ETA " + Self.duration(Double(total - progress.bytesDone) / rate)
            }
        }
        let rateText = rate.map { String(format: "%.1f MB/s", max(0, $0) / 1e6) } ?? ""
        return (percent, bytes, rateText, eta)
    }

    private func drawTerminalLine(_ progress: PullProgress) {
        let width = max(40, Self.terminalWidth() - 1)
        let stats = statistics(progress)
        let tail = [stats.percent, stats.bytes, stats.rate, stats.eta].filter { !$0.isEmpty }.joined(separator: "  ")
        var bar = ""
        if let total = progress.bytesTotal, total > 0 {
            let cells = 24
            let filled = Int(min(Int64(cells), progress.bytesDone * Int64(cells) / total))
            bar = "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: cells - filled) + "]  "
        }
        var phase = progress.phase
        let room = width - bar.count - tail.count - 2
        if room < 8 { bar = "" }
        let phaseRoom = width - bar.count - tail.count - 2
        if phase.count > phaseRoom { phase = Self.shortenMiddle(phase, to: phaseRoom) }
        var line = phase + "  " + bar + tail
        if line.count < width { line += String(repeating: " ", count: width - line.count) }
        writeStderr("\r" + String(line.prefix(width)))
        drewLine = true
    }

    private func plainLine(_ progress: PullProgress) -> String {
        let stats = statistics(progress)
        var details = [stats.bytes]
        if !stats.rate.isEmpty { details.append(stats.rate) }
        if !stats.eta.isEmpty { details.append(stats.eta) }
        let percent = stats.percent.trimmingCharacters(in: .whitespaces)
        return "\(progress.phase): \(percent.isEmpty ? "" : percent + " ")(\(details.joined(separator: ", ")))"
    }

    /// Cuts the middle out of `text`: the ends ("downloading …" and "(3/22)") say the most.
    static func shortenMiddle(_ text: String, to length: Int) -> String {
        guard text.count > length else { return text }
        guard length > 1 else { return String(text.prefix(max(0, length))) }
        let tail = (length - 1) / 2
        let head = length - 1 - tail
        return String(text.prefix(head)) + "…" + String(text.suffix(tail))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60) }
        return String(format: "%d:%02d", total / 60, total % 60)
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        let result = withUnsafeMutablePointer(to: &size) { ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), $0) }
        if result == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    private func writeStderr(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
