#include "bert/util/files.h"

#include "bert/util/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bert {

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void require_directory(const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return;
  throw Error(flag + " " + path + ": " +
              (std::filesystem::exists(path, ec) ? "is a file, expected a directory" : "no such directory"));
}

void require_directory_if_present(const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) require_directory(flag, path);
}

void refuse_output_over_input(const std::string& flag, const std::string& output, const std::vector<std::string>& inputs) {
  std::error_code ec;
  for (const auto& input : inputs)
    if (!input.empty() && std::filesystem::equivalent(output, input, ec))
      throw Error(flag + " " + output + ": is " + (input == output ? "an input" : "the input " + input) +
                  " of this command; write the result to another file");
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic_streamed(path, [&](const ChunkWriter& write) { write(contents.data(), contents.size()); });
}

void write_file_atomic_streamed(const std::string& path, const std::function<void(const ChunkWriter& write)>& produce) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(tmp + ": cannot create (" + std::strerror(errno) + ")");
  std::string failure;  // the first write error; later chunks are dropped
  const ChunkWriter write = [&](const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0 && failure.empty()) {
      ssize_t n = ::write(fd, p, size);
      if (n < 0) {
        if (errno != EINTR) failure = std::strerror(errno);
        continue;
      }
      if (n == 0) failure = "no progress writing";
      p += n;
      size -= static_cast<size_t>(n);
    }
  };
  try {
    produce(write);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (failure.empty() && ::fsync(fd) != 0) failure = std::strerror(errno);
  if (::close(fd) != 0 && failure.empty()) failure = std::strerror(errno);
  if (!failure.empty()) {
    ::unlink(tmp.c_str());
    throw Error(path + ": write failed (" + failure + "); the previous file is left as it was");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot rename from " + tmp + " (" + why + ")");
  }
}

}  // namespace bert
