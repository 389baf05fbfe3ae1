import Foundation

/// Human-readable numbers for terminal output.
enum Formatting {
    /// 98362432 → "93.8 MiB".
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// 134515008 → "134.52M".
    static func parameterCount(_ count: Int) -> String {
        switch count {
        case 1_000_000_000...: return String(format: "%.2fB", Double(count) / 1e9)
        case 1_000_000...: return String(format: "%.2fM", Double(count) / 1e6)
        case 1_000...: return String(format: "%.2fK", Double(count) / 1e3)
        default: return String(count)
        }
    }
}
