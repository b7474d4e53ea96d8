// The config loader (libyaml events composed into a tree, then validated) on arbitrary text:
// a config or an error with its key path, never a crash. Loading reads no files.
import Config

extension FuzzHarness {
    func fuzzConfig(_ data: UnsafeRawBufferPointer) {
        do {
            _ = try ConfigLoader.load(yaml: String(decoding: data, as: UTF8.self), defaultWorkers: 1)
        } catch {
            agree(!error.description.isEmpty, "a config error without a reason")
        }
    }
}
