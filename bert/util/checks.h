// Range checks of option values, each failing with one Error "FLAG: must be ..., found VALUE", so
// that every command rejects a bad number before it loads a model or reads data (a 0 that would
// divide, a negative count that would wrap, a NaN that would train nothing).
#pragma once

#include "bert/util/error.h"

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

namespace bert {

namespace detail {
template <typename T>
[[noreturn]] void option_out_of_range(const std::string& flag, const std::string& expected, T found) {
  std::ostringstream s;
  s << flag << ": must be " << expected << ", found " << found;
  throw Error(s.str());
}
}  // namespace detail

inline void require_positive(const std::string& flag, int64_t v) {
  if (v <= 0) detail::option_out_of_range(flag, "> 0", v);
}
inline void require_non_negative(const std::string& flag, int64_t v) {
  if (v < 0) detail::option_out_of_range(flag, ">= 0", v);
}
inline void require_positive(const std::string& flag, int v) { require_positive(flag, int64_t{v}); }
inline void require_non_negative(const std::string& flag, int v) { require_non_negative(flag, int64_t{v}); }
inline void require_finite(const std::string& flag, double v) {
  if (!std::isfinite(v)) detail::option_out_of_range(flag, "a finite number", v);
}
inline void require_non_negative(const std::string& flag, double v) {
  if (!(std::isfinite(v) && v >= 0)) detail::option_out_of_range(flag, "a finite number >= 0", v);
}
inline void require_positive(const std::string& flag, double v) {
  if (!(std::isfinite(v) && v > 0)) detail::option_out_of_range(flag, "a finite number > 0", v);
}
// lo <= v <= hi, or lo <= v < hi with `below_hi`.
inline void require_in_range(const std::string& flag, double v, double lo, double hi, bool below_hi = false) {
  const bool ok = v >= lo && (below_hi ? v < hi : v <= hi);  // false for NaN
  if (!ok) {
    std::ostringstream range;
    range << "in [" << lo << ", " << hi << (below_hi ? ")" : "]");
    detail::option_out_of_range(flag, range.str(), v);
  }
}

}  // namespace bert
