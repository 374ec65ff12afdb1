// Reading and writing the safetensors format (Hugging Face's `model.safetensors`).
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}},
// then the raw little-endian tensor bytes. We write it ourselves (nlohmann-json for the header)
// and validate everything we read against the file size, so a damaged file gives one clear
// message naming the file, the tensor and what is wrong, never a crash.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bert::io {

struct SafetensorsFile {
  // Tensors in the order of the header's keys (sorted by name, as the format's writers do).
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__", string → string
};

// Reads every tensor into CPU memory with its stored dtype (F32, F16, BF16, F64, I64, I32,
// I16, I8, U8, BOOL). Each tensor is contiguous and owns its memory (nothing is shared with
// the other tensors or with a file buffer). Throws bert::Error naming `path` and the problem
// on any inconsistency: a header that is not JSON or repeats a key, a malformed entry, an
// unknown dtype, data_offsets that disagree with dtype and shape or that do not tile the data
// section exactly (overlaps, holes, trailing bytes), a BOOL byte other than 0/1.
SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (made contiguous, moved to CPU) with keys sorted by name (byte order),
// offsets contiguous in key order, the header padded with spaces to a multiple of 8 bytes,
// and "__metadata__" first when `metadata` is non-empty (Hugging Face writes {"format": "pt"}).
// Offsets are not aligned to the dtype size (the format does not require it; readers copy).
// Written to `path + ".tmp"`, fsynced and renamed, so a crash never leaves a half-written
// file under `path`. Throws bert::Error naming `path` for a bad argument (reserved or repeated
// name, undefined/sparse tensor, unsupported dtype) before creating anything, and for an I/O
// failure (with the errno text), after removing the temporary file; the previous file at
// `path`, if any, is then untouched.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace bert::io
