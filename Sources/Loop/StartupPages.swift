// Gives back the pages that only starting up touched: code and read-only data of the executable
// and the shared libraries, which the running gateway never reads again. They stay in the page
// cache (and shared); unmapped from this process, they leave its resident set, and a page that is
// needed again comes back with a minor fault. Only mappings that are file-backed, not writable and
// hold no private copy of a page (`Anonymous: 0 kB`, so not the relocated RELRO pages) are
// touched: for those, MADV_DONTNEED cannot lose a byte.
import Glibc

public enum StartupPages {
    /// Unmaps the clean read-only file pages of every such mapping.
    public static func release() {
        guard let smaps = FileReader.contents(of: "/proc/self/smaps") else { return }
        // Collected first, released at the end: the parsing's own code is start-up code too.
        var clean: [(start: UInt, end: UInt)] = []
        var candidate: (start: UInt, end: UInt)?
        var resident = 0
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), fields.count >= 5, let range = addressRange(first) {
                let permissions = fields[1]
                let path = fields.count >= 6 ? fields[5] : ""
                candidate = path.hasPrefix("/") && !permissions.contains("w") ? range : nil
                resident = 0
            } else if first == "Rss:", fields.count >= 2 {
                resident = Int(fields[1]) ?? 0
            } else if first == "Anonymous:", fields.count >= 2, let range = candidate {
                candidate = nil
                guard fields[1] == "0", resident > 0 else { continue }
                clean.append(range)
            }
        }
        for mapping in clean {
            madvise(UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start), MADV_DONTNEED)
        }
    }

    private static func addressRange(_ text: Substring) -> (start: UInt, end: UInt)? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let start = UInt(parts[0], radix: 16), let end = UInt(parts[1], radix: 16) else { return nil }
        return (start, end)
    }
}
