// Whole small files (configs, descriptor sets, key sets, tokens) and whole streams, read with
// plain system calls at start or reload, never on a loop's hot path.
import Glibc

public enum FileReader {
    /// The whole file, or nil with `errno` set.
    public static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAll(fd)
    }

    /// Everything left to read on `fd`, or nil with `errno` set.
    public static func readAll(_ fd: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// Why the last read failed (`errno` as text).
    public static var lastError: String { String(cString: strerror(errno)) }
}
