// libFuzzer's driver entry (compiler-rt, linked by -sanitize=fuzzer): ferry-fuzz calls it from
// its own main, as SwiftPM names an executable's entry point itself.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
