// Implementation of the Unicode helpers declared in unicode.h. Character properties,
// case mappings and normalisation come from utf8proc; this file only adds the UTF-8 codec (so
// that malformed input is handled the way Python's errors="replace" handles it) and the glue
// that turns utf8proc's answers into the exact predicates transformers' BertTokenizer uses.
#include "bert/tokenizer/unicode.h"

#include <utf8proc.h>

namespace bert::tokenizer::unicode {

namespace {

inline bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

inline utf8proc_category_t category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

constexpr utf8proc_option_t kDecomposeOptions =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
constexpr utf8proc_option_t kComposeOptions =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);

}  // namespace

char32_t decode_utf8(std::string_view s, size_t& pos) noexcept {
  const size_t n = s.size();
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  // Lead bytes 0x80-0xC1 (continuations, overlong 2-byte leads) and 0xF5-0xFF can never start a
  // well-formed sequence: each is a maximal subpart of length one.
  if (b0 < 0xC2 || b0 > 0xF4) {
    ++pos;
    return kReplacementChar;
  }
  int need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Unicode Table 3-7)
  char32_t cp;
  if (b0 < 0xE0) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 < 0xF0) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  }
  size_t p = pos + 1;
  for (int k = 0; k < need; ++k, ++p) {
    if (p >= n) {
      pos = p;
      return kReplacementChar;
    }
    const auto b = static_cast<unsigned char>(s[p]);
    const bool ok = k == 0 ? (b >= lo && b <= hi) : is_continuation(b);
    if (!ok) {
      pos = p;  // the bytes consumed so far form the maximal subpart; b starts the next one
      return kReplacementChar;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  pos = p;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view s, size_t* error_offset) noexcept {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    // A literal U+FFFD in the input is valid; only a decoder-made one marks an error.
    if (cp == kReplacementChar && !(pos - start == 3 && s.substr(start, 3) == "\xEF\xBF\xBD")) {
      if (error_offset) *error_offset = start;
      return false;
    }
  }
  return true;
}

bool is_whitespace(char32_t cp) noexcept {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return category(cp) == UTF8PROC_CATEGORY_ZS;
}

bool is_control(char32_t cp) noexcept {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(char32_t cp) noexcept {
  // BERT counts all ASCII symbols ($, ^, `, +, ...) as punctuation although Unicode files some
  // of them under S*: the ranges are the four gaps between ASCII digits and letters.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_chinese_char(char32_t cp) noexcept {
  // The block list is BERT's definition (not a Unicode property), so it is spelled out here.
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_line_separator(char32_t cp) noexcept {
  const auto c = category(cp);
  return c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool is_python_space(char32_t cp) noexcept {
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

bool is_nonspacing_mark(char32_t cp) noexcept { return category(cp) == UTF8PROC_CATEGORY_MN; }

bool is_alphanumeric(char32_t cp) noexcept {
  const auto c = category(cp);
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) || (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

int combining_class(char32_t cp) noexcept {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

int to_lower(char32_t cp, char32_t out[2]) noexcept {
  // SpecialCasing.txt has exactly one unconditional lower-case mapping longer than one code
  // point; Python applies it, utf8proc_tolower (simple mapping) does not.
  if (cp == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
  return 1;
}

void append_canonical_decomposition(char32_t cp, std::vector<char32_t>& out) {
  utf8proc_int32_t buf[16];
  int boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 16,
                                                     kDecomposeOptions, &boundclass);
  if (n <= 0 || n > 16) {  // cannot happen for valid scalar values; keep the char unchanged
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

void canonical_order(std::vector<char32_t>& cps) {
  // Insertion sort per run of non-starters: runs are a handful of marks long, and the sort must
  // be stable (equal classes keep their order).
  const size_t n = cps.size();
  for (size_t i = 1; i < n; ++i) {
    const int ci = combining_class(cps[i]);
    if (ci == 0) continue;
    size_t j = i;
    const char32_t c = cps[i];
    while (j > 0) {
      const int cj = combining_class(cps[j - 1]);
      if (cj == 0 || cj <= ci) break;
      cps[j] = cps[j - 1];
      --j;
    }
    cps[j] = c;
  }
}

void nfc(std::vector<char32_t>& cps, std::vector<char32_t>& decomposed,
         std::vector<int32_t>& scratch) {
  decomposed.clear();
  for (char32_t cp : cps) append_canonical_decomposition(cp, decomposed);
  canonical_order(decomposed);
  scratch.assign(decomposed.begin(), decomposed.end());
  const utf8proc_ssize_t n = utf8proc_normalize_utf32(
      scratch.data(), static_cast<utf8proc_ssize_t>(scratch.size()), kComposeOptions);
  if (n < 0) return;  // utf8proc only fails on invalid code points, which never get here
  cps.assign(scratch.begin(), scratch.begin() + n);
}

namespace {
std::vector<char32_t> decode_all(std::string_view s) {
  std::vector<char32_t> cps;
  cps.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) cps.push_back(decode_utf8(s, pos));
  return cps;
}
std::string encode_all(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}
}  // namespace

std::string nfc(std::string_view s) {
  std::vector<char32_t> cps = decode_all(s);
  std::vector<char32_t> decomposed;
  std::vector<int32_t> scratch;
  nfc(cps, decomposed, scratch);
  return encode_all(cps);
}

std::string nfd(std::string_view s) {
  std::vector<char32_t> out;
  for (char32_t cp : decode_all(s)) append_canonical_decomposition(cp, out);
  canonical_order(out);
  return encode_all(out);
}

CleanClass clean_class(char32_t cp) noexcept {
  if (cp == 0 || cp == kReplacementChar) return kCleanDrop;
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return kCleanSpace;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return kCleanDrop;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return kCleanSpace;
    default:
      return kCleanKeep;
  }
}

const AsciiTables& ascii_tables() noexcept {
  static const AsciiTables tables = [] {
    AsciiTables t{};
    for (char32_t c = 0; c < 128; ++c) {
      uint8_t cls;
      if (c == 0 || is_control(c))
        cls = kAsciiDrop;
      else if (is_whitespace(c))
        cls = kAsciiSpace;
      else if (is_punctuation(c))
        cls = kAsciiPunct;
      else
        cls = kAsciiOther;
      t.cls[c] = cls;
      char32_t low[2];
      to_lower(c, low);
      t.lower[c] = static_cast<char>(low[0]);
    }
    return t;
  }();
  return tables;
}

}  // namespace bert::tokenizer::unicode
