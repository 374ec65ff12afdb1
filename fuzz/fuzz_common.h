// Helpers shared by the fuzz targets. A target feeds one input to a parser and checks what the
// parser promises in its header: a bert::Error is the expected answer to bad input (caught by
// the target), everything else — a crash, a sanitizer report, another exception escaping, a
// broken documented invariant (FUZZ_CHECK) — is a finding that libFuzzer saves as a crash file.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bert::fuzz {

// A broken invariant: say which and abort, so libFuzzer records the input.
#define FUZZ_CHECK(cond, what)                                                               \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, what, \
                   #cond);                                                                   \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

// A scratch path in /dev/shm (memory, not disk) unique to this process, so that two targets or
// two fuzzing jobs never share a file; removed at exit. `name` ends the path and so may carry the
// file extension that a parser looks at.
inline std::string scratch_path(const std::string& name) {
  return "/dev/shm/bert-fuzz-" + std::to_string(::getpid()) + "-" + name;
}

// Writes the bytes to `path` (truncating); aborts on failure, which is an environment problem,
// not a finding in the parser.
inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

// A scratch file for the life of the process (a function-local static in the target), removed
// at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name) : path_(scratch_path(name)) {}
  ~ScratchFile() { ::unlink(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }
  void write(std::string_view bytes) const { write_bytes(path_, bytes); }

 private:
  std::string path_;
};

}  // namespace bert::fuzz
