// The fuzzing executable: FERRY_FUZZ_TARGET names the target, FERRY_FUZZ_DESCRIPTORS the
// rich.proto descriptor set for the JSON targets. Built with -DFUZZING and
// -sanitize=fuzzer,address (scripts/fuzz), libFuzzer's driver runs it with libFuzzer's
// arguments; built plainly, it replays the files given as arguments through the target (to
// reproduce a crash in a debugger).
import FuzzTargets
import Glibc

let target: FuzzTarget = {
    guard let name = getenv("FERRY_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
        fatalError("FERRY_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

let harness: FuzzHarness = {
    do {
        return try FuzzHarness(descriptorSet: getenv("FERRY_FUZZ_DESCRIPTORS").map { readFile(String(cString: $0)) })
    } catch {
        fatalError("cannot load the descriptor set: \(error)")
    }
}()

func readFile(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fatalError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { bytes += chunk[..<count] }
    return bytes
}

#if FUZZING
    import CLibFuzzer

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        harness.run(target, UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }

    @main
    enum Fuzz {
        static func main() {
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
        }
    }
#else
    @main
    enum Replay {
        static func main() {
            for path in CommandLine.arguments.dropFirst() {
                readFile(path).withUnsafeBytes { harness.run(target, $0) }
                print("\(path): ok")
            }
        }
    }
#endif
