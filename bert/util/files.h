// Small file helpers shared by every reader and writer: whole-file reads with errors that name
// the path, and atomic writes (tmp file, fsync, rename) so a crash never leaves half a file.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bert {

std::string read_text_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view contents);

// Throws when `output` (given with `flag`) is one of `inputs` under any name (links, "./"): a
// command must not write its result over a file it reads.
// Throws "FLAG PATH: no such directory" (or "is a file, expected a directory") unless `path` is
// a directory: said first, before a file inside it is reported missing.
void require_directory(const std::string& flag, const std::string& path);
// The same for a directory a command creates when it is absent (a run's --out).
void require_directory_if_present(const std::string& flag, const std::string& path);

void refuse_output_over_input(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs);

// The same, for contents too large to hold twice in memory: `produce` hands the bytes, in order,
// to the `write` it is given, any number of times. A failed write (disk full) is remembered and
// the rest discarded rather than reported to the producer mid-stream (LibTorch's serialiser
// aborts the process when its writer fails); it is thrown once `produce` returns.
using ChunkWriter = std::function<void(const void* data, size_t size)>;
void write_file_atomic_streamed(const std::string& path, const std::function<void(const ChunkWriter& write)>& produce);

}  // namespace bert
