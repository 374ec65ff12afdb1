#include "bert/util/text.h"

#include <cstdio>

namespace bert {

std::string quote_snippet(std::string_view s, size_t max_bytes) {
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size(); ++i) {
    // Cut at the first character boundary from max_bytes on. A character has at most 3
    // continuation bytes, so a longer run of them (invalid UTF-8) is cut as well.
    if (i >= max_bytes && ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 || i >= max_bytes + 3)) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"";
  if (i < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace bert
