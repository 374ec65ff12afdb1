// Fuzz target: the safetensors reader (bert/io/safetensors.h). The input is written to a scratch
// file and read with read_safetensors, as a checkpoint's model.safetensors is read. A file that
// reads is written back with write_safetensors and read again: names, dtypes, shapes, bytes and
// metadata must survive, and every tensor must be a contiguous CPU tensor owning exactly the
// bytes its header entry declared. The reader promises that a damaged file gives a bert::Error,
// never a crash nor an allocation larger than the file.
#include <cstring>
#include <string>

#include "bert/io/safetensors.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bert::fuzz::ScratchFile input("in.safetensors"), output("out.safetensors");
  input.write(std::string_view(reinterpret_cast<const char*>(data), size));

  bert::io::SafetensorsFile f;
  try {
    f = bert::io::read_safetensors(input.path());
  } catch (const bert::Error&) {
    return 0;
  }
  size_t total = 0;
  for (const auto& [name, t] : f.tensors) {
    FUZZ_CHECK(name != "__metadata__", "metadata returned as a tensor");
    FUZZ_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous(), "tensor not a contiguous CPU tensor");
    total += t.nbytes();
  }
  FUZZ_CHECK(total + 8 <= size, "tensors hold more bytes than the file");
  for (size_t i = 1; i < f.tensors.size(); ++i)
    FUZZ_CHECK(f.tensors[i - 1].first < f.tensors[i].first, "tensors not in sorted key order");

  bert::io::write_safetensors(output.path(), f.tensors, f.metadata);
  const auto back = bert::io::read_safetensors(output.path());
  FUZZ_CHECK(back.metadata == f.metadata, "metadata changed in a round trip");
  FUZZ_CHECK(back.tensors.size() == f.tensors.size(), "tensor count changed in a round trip");
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& [name, t] = f.tensors[i];
    const auto& [name2, t2] = back.tensors[i];
    FUZZ_CHECK(name == name2 && t.scalar_type() == t2.scalar_type() && t.sizes() == t2.sizes(),
               "name, dtype or shape changed in a round trip");
    FUZZ_CHECK(t.nbytes() == t2.nbytes() &&
                   (t.nbytes() == 0 || std::memcmp(t.data_ptr(), t2.data_ptr(), t.nbytes()) == 0),
               "bytes changed in a round trip");
  }
  return 0;
}
