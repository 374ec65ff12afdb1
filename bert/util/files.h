// Small file helpers shared by every reader and writer: whole-file reads with errors that name
// the path, and atomic writes (tmp file, fsync, rename) so a crash never leaves half a file.
#pragma once

#include <string>
#include <string_view>

namespace bert {

std::string read_text_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace bert
