// WordPieceTokenizer: a re-implementation of transformers' slow BertTokenizer (4.34+) built for
// throughput. The Python pipeline runs over the whole string several times (special-token
// split, lower-casing, clean-up, CJK spacing, NFC, whitespace split, per-token lower + NFD
// accent strip, punctuation split, WordPiece). Here one pass over the bytes does the
// character-level steps and collects one whitespace token at a time; the token-level steps then
// run on that token only. Pure-ASCII tokens whose bytes are contiguous in the source (the vast
// majority of English text) take a fast path: the token is its own lower-cased bytes and offsets
// are implicit. Every shortcut is justified in a comment by why it cannot change the result.
// Vocabulary lookups use an open-addressing table keyed by byte ranges, so candidate sub-words
// are never copied; "##" continuations live in a second table keyed without the prefix.
#include "bert/tokenizer/wordpiece.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"

namespace bert::tokenizer {

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Hash table from byte strings to ids.

inline uint64_t hash_bytes(const char* p, size_t n) noexcept {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

class StringIndex {
 public:
  // Later duplicates overwrite earlier ones, like the Python dict built from vocab.txt.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& items) {
    size_t cap = 16;
    while (cap < items.size() * 2 + 1) cap <<= 1;  // load factor <= 0.5: short probe chains
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    arena_.clear();
    size_t total = 0;
    for (const auto& it : items) total += it.first.size();
    arena_.reserve(total);
    for (const auto& [key, id] : items) {
      const uint64_t h = hash_bytes(key.data(), key.size());
      size_t i = h & mask_;
      for (;; i = (i + 1) & mask_) {
        Slot& s = slots_[i];
        if (s.id < 0) {
          s.tag = static_cast<uint32_t>(h >> 32);
          s.len = static_cast<uint32_t>(key.size());
          s.off = static_cast<uint32_t>(arena_.size());
          s.id = id;
          arena_.append(key);
          break;
        }
        if (s.tag == static_cast<uint32_t>(h >> 32) && s.len == key.size() &&
            std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0) {
          s.id = id;
          break;
        }
      }
    }
  }

  int32_t find(const char* p, size_t n) const noexcept {
    const uint64_t h = hash_bytes(p, n);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && s.len == n && std::memcmp(arena_.data() + s.off, p, n) == 0) return s.id;
    }
  }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t len = 0;
    uint32_t off = 0;
    int32_t id = -1;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::string arena_;
};

// ---------------------------------------------------------------------------------------------
// Work buffers. Encoding is const and thread-safe, so the buffers are per thread; keeping them
// alive between calls means the hot loop allocates nothing once they have grown.

struct Piece {
  int32_t id;
  int32_t word;
  size_t begin;
  size_t end;
};

struct Scratch {
  // The whitespace token being collected. While `simple` holds, it is pure ASCII and its chars
  // are the contiguous source bytes [simple_src, simple_src + buf.size()), lower-cased if
  // requested; otherwise it lives in cps/sb/se (code point, source byte range per char).
  std::string buf;
  bool simple = true;
  size_t simple_src = 0;
  std::vector<char32_t> cps;
  std::vector<size_t> sb, se;
  // Temporaries for normalisation and for the current word.
  std::vector<char32_t> t_cps, t_dec, t_nfc;
  std::vector<size_t> t_sb, t_se;
  std::vector<int32_t> t32;
  std::string wbytes;
  std::vector<uint32_t> wcb;  // byte offset of each char of wbytes (+ end sentinel)
  std::string tmp;
  // Piece lists of encode().
  std::vector<Piece> first, second;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// Offset maps for the WordPiece loop: char k of the word starts at byte(k) of the word's bytes
// and came from source bytes [src_begin(k), src_end(k)).
struct IdentityMap {
  size_t base;
  size_t byte(size_t k) const { return k; }
  size_t src_begin(size_t k) const { return base + k; }
  size_t src_end(size_t k) const { return base + k + 1; }
};
struct ArrayMap {
  const uint32_t* cb;
  const size_t* sb;
  const size_t* se;
  size_t byte(size_t k) const { return cb[k]; }
  size_t src_begin(size_t k) const { return sb[k]; }
  size_t src_end(size_t k) const { return se[k]; }
};

std::string describe_byte_offset(size_t offset) {
  return "byte " + std::to_string(offset + 1);
}

// Python's str.strip(): removes leading/trailing characters for which str.isspace() holds.
std::string python_strip(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    size_t p = begin;
    if (!unicode::is_python_space(unicode::decode_utf8(s, p))) break;
    begin = p;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t p = start;
    if (!unicode::is_python_space(unicode::decode_utf8(s, p))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  bool changed = false;
  for (;;) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    if (!changed) out.reserve(s.size());
    changed = true;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  if (!changed) return;
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

std::vector<std::string> split_vocab_lines(const std::string& data) {
  // Python's universal newlines: \n, \r\n and \r all end a line; a final terminator does not
  // start another line.
  std::vector<std::string> lines;
  size_t start = 0;
  const size_t n = data.size();
  while (start < n) {
    size_t i = start;
    while (i < n && data[i] != '\n' && data[i] != '\r') ++i;
    lines.emplace_back(data, start, i - start);
    if (i < n && data[i] == '\r' && i + 1 < n && data[i + 1] == '\n') ++i;
    start = i + 1;
  }
  return lines;
}

std::vector<std::string> read_vocab_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("vocabulary file '" + path +
                "': cannot open it (expected a WordPiece vocab.txt, or a tokenizer.json with a WordPiece model)");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("vocabulary file '" + path + "': read error");
  return split_vocab_lines(ss.str());
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct WordPieceTokenizer::Impl {
  WordPieceOptions opt;
  bool strip = true;
  std::vector<std::string> vocab;
  StringIndex full;  // every vocab line
  StringIndex cont;  // "##x" lines, keyed by "x"
  size_t max_full_bytes = 0;
  size_t max_cont_bytes = 0;
  int32_t unk = -1, cls = -1, sep = -1, pad = -1, mask = -1;

  struct Special {
    std::string text;
    int32_t id;
  };
  std::vector<Special> specials;  // the five, matched verbatim in raw text
  bool special_first_byte[256] = {};
  int single_first_byte = -1;  // set when all special tokens start with the same byte
  std::unordered_set<std::string> never_split;      // user list: emitted whole
  std::unordered_set<std::string> special_strings;  // also kept whole by BasicTokenizer
  std::vector<size_t> special_char_counts;          // lengths (in chars) of special_strings
  const unicode::AsciiTables* ascii = &unicode::ascii_tables();

  void init(std::vector<std::string> lines, WordPieceOptions options);
  int32_t id_of(std::string_view token) const { return full.find(token.data(), token.size()); }

  void tokenize_text(std::string_view text, std::vector<Piece>& out) const;
  void process_segment(std::string_view text, size_t begin, size_t end, int32_t& word,
                       std::vector<Piece>& out) const;
  void flush_token(Scratch& s, int32_t& word, std::vector<Piece>& out) const;
  void flush_simple(Scratch& s, int32_t& word, std::vector<Piece>& out) const;
  void flush_general(Scratch& s, int32_t& word, std::vector<Piece>& out) const;
  void nfc_aligned(Scratch& s) const;
  void strip_accents_aligned(Scratch& s) const;
  void emit_general_word(Scratch& s, size_t a, size_t b, int32_t word,
                         std::vector<Piece>& out) const;
  template <class Map>
  void wordpiece(const char* w, size_t nchars, const Map& m, int32_t word,
                 std::vector<Piece>& out) const;
  bool kept_whole(Scratch& s, int32_t& word, std::vector<Piece>& out, const std::string& token,
                  size_t src_begin, size_t src_end) const;
};

void WordPieceTokenizer::Impl::init(std::vector<std::string> lines, WordPieceOptions options) {
  opt = std::move(options);
  strip = opt.strip_accents.value_or(opt.do_lower_case);
  vocab = std::move(lines);
  const std::string& path = opt.vocab_path.empty() ? std::string("<memory>") : opt.vocab_path;
  if (vocab.size() > static_cast<size_t>(INT32_MAX)) {
    throw Error("vocabulary file '" + path + "': too many lines (" +
                std::to_string(vocab.size()) + ")");
  }
  std::vector<std::pair<std::string_view, int32_t>> full_items, cont_items;
  full_items.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    const std::string& tok = vocab[i];
    const std::string where =
        "vocabulary file '" + path + "', line " + std::to_string(i + 1) + ": ";
    if (tok.empty()) throw Error(where + "expected a token, found an empty line");
    size_t bad = 0;
    if (!unicode::is_valid_utf8(tok, &bad)) {
      throw Error(where + "expected UTF-8 text, found an invalid byte sequence at " +
                  describe_byte_offset(bad));
    }
    full_items.emplace_back(tok, static_cast<int32_t>(i));
    max_full_bytes = std::max(max_full_bytes, tok.size());
    if (tok.size() > 2 && tok[0] == '#' && tok[1] == '#') {
      cont_items.emplace_back(std::string_view(tok).substr(2), static_cast<int32_t>(i));
      max_cont_bytes = std::max(max_cont_bytes, tok.size() - 2);
    }
  }
  full.build(full_items);
  cont.build(cont_items);

  auto require = [&](const std::string& token, const char* role) {
    const int32_t id = id_of(token);
    if (id < 0) {
      throw Error("vocabulary file '" + path + "': expected a line '" + token + "' (the " + role +
                  " token), found none among " + std::to_string(vocab.size()) + " lines");
    }
    return id;
  };
  unk = require(opt.unk_token, "unknown");
  cls = require(opt.cls_token, "classifier");
  sep = require(opt.sep_token, "separator");
  pad = require(opt.pad_token, "padding");
  mask = require(opt.mask_token, "mask");

  specials.clear();
  for (const std::string* t :
       {&opt.pad_token, &opt.unk_token, &opt.cls_token, &opt.sep_token, &opt.mask_token}) {
    if (t->empty()) throw Error("WordPiece options: special tokens must not be empty");
    if (special_strings.insert(*t).second) specials.push_back({*t, id_of(*t)});
  }
  // Longest first, so that a special token that is a prefix of another cannot shadow it.
  std::sort(specials.begin(), specials.end(),
            [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
  for (const auto& sp : specials) {
    const auto first_byte = static_cast<unsigned char>(sp.text[0]);
    special_first_byte[first_byte] = true;
    single_first_byte = (&sp == &specials.front() || single_first_byte == first_byte)
                            ? first_byte
                            : -2;
    size_t chars = 0, p = 0;
    while (p < sp.text.size()) {
      unicode::decode_utf8(sp.text, p);
      ++chars;
    }
    special_char_counts.push_back(chars);
  }
  if (single_first_byte < 0) single_first_byte = -1;
  never_split = std::unordered_set<std::string>(opt.never_split.begin(), opt.never_split.end());
}

// Splits the raw text on verbatim special tokens (transformers' added-token trie runs before
// any normalisation and is case-sensitive), tokenizing the text between them.
void WordPieceTokenizer::Impl::tokenize_text(std::string_view text,
                                             std::vector<Piece>& out) const {
  int32_t word = 0;
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    size_t hit = pos;
    const Special* found = nullptr;
    for (; hit < n; ++hit) {
      if (single_first_byte >= 0) {  // the usual case ('['): let memchr skip ahead
        const void* p = std::memchr(text.data() + hit, single_first_byte, n - hit);
        if (!p) {
          hit = n;
          break;
        }
        hit = static_cast<size_t>(static_cast<const char*>(p) - text.data());
      } else if (!special_first_byte[static_cast<unsigned char>(text[hit])]) {
        continue;
      }
      for (const auto& sp : specials) {
        if (text.compare(hit, sp.text.size(), sp.text) == 0) {
          found = &sp;
          break;
        }
      }
      if (found) break;
    }
    process_segment(text, pos, hit, word, out);
    if (!found) break;
    out.push_back({found->id, word++, hit, hit + found->text.size()});
    pos = hit + found->text.size();
  }
}

// The character-level steps, in transformers' order: lower-case each char (the regex in
// PreTrainedTokenizer.tokenize lower-cases char by char, so Python's final-sigma rule never
// fires), drop NUL/U+FFFD/control chars, turn whitespace into word breaks, isolate CJK
// ideographs. Whitespace tokens are handed to flush_token as they complete.
void WordPieceTokenizer::Impl::process_segment(std::string_view text, size_t begin, size_t end,
                                               int32_t& word, std::vector<Piece>& out) const {
  Scratch& s = scratch();
  s.buf.clear();
  s.simple = true;
  s.cps.clear();
  s.sb.clear();
  s.se.clear();
  const std::string_view seg = text.substr(0, end);  // decoding never reads past the segment
  const bool lower = opt.do_lower_case;
  const auto& at = *ascii;

  auto to_general = [&s] {
    s.simple = false;
    for (size_t k = 0; k < s.buf.size(); ++k) {
      s.cps.push_back(static_cast<unsigned char>(s.buf[k]));
      s.sb.push_back(s.simple_src + k);
      s.se.push_back(s.simple_src + k + 1);
    }
    s.buf.clear();
  };
  auto push_general = [&s](char32_t cp, size_t b, size_t e) {
    s.cps.push_back(cp);
    s.sb.push_back(b);
    s.se.push_back(e);
  };

  size_t i = begin;
  while (i < end) {
    const auto c = static_cast<unsigned char>(seg[i]);
    if (c < 0x80) {
      const uint8_t cls_ = at.cls[c];
      if (cls_ == unicode::kAsciiSpace) {
        flush_token(s, word, out);
      } else if (cls_ != unicode::kAsciiDrop) {
        const char ch = lower ? at.lower[c] : static_cast<char>(c);
        if (s.simple) {
          if (s.buf.empty()) s.simple_src = i;
          if (s.simple_src + s.buf.size() == i) {
            s.buf.push_back(ch);
            ++i;
            continue;
          }
          to_general();  // a dropped char made the token non-contiguous
        }
        push_general(static_cast<unsigned char>(ch), i, i + 1);
      }
      ++i;
      continue;
    }
    const size_t start = i;
    const char32_t cp = unicode::decode_utf8(seg, i);
    char32_t low[2] = {cp, 0};
    const int nl = lower ? unicode::to_lower(cp, low) : 1;
    for (int k = 0; k < nl; ++k) {
      const char32_t ch = low[k];
      const auto cc = unicode::clean_class(ch);
      if (cc == unicode::kCleanDrop) continue;
      if (cc == unicode::kCleanSpace) {
        flush_token(s, word, out);
        continue;
      }
      const bool cjk = opt.tokenize_chinese_chars && unicode::is_chinese_char(ch);
      if (cjk) flush_token(s, word, out);
      if (s.simple) to_general();
      push_general(ch, start, i);
      if (cjk) flush_token(s, word, out);
    }
  }
  flush_token(s, word, out);
}

void WordPieceTokenizer::Impl::flush_token(Scratch& s, int32_t& word,
                                           std::vector<Piece>& out) const {
  if (s.simple) {
    if (!s.buf.empty()) flush_simple(s, word, out);
    s.buf.clear();
  } else {
    if (!s.cps.empty()) flush_general(s, word, out);
    s.cps.clear();
    s.sb.clear();
    s.se.clear();
    s.simple = true;
  }
}

// BasicTokenizer keeps a token whole when it is in never_split (the user's list or the special
// tokens); _tokenize then emits user never_split tokens as they are and passes special-token
// strings (which can only get here re-assembled, e.g. "[CL\x00S]") to WordPiece unsplit.
bool WordPieceTokenizer::Impl::kept_whole(Scratch& s, int32_t& word, std::vector<Piece>& out,
                                          const std::string& token, size_t src_begin,
                                          size_t src_end) const {
  if (!never_split.empty() && never_split.count(token)) {
    const int32_t id = id_of(token);
    out.push_back({id >= 0 ? id : unk, word++, src_begin, src_end});
    return true;
  }
  if (special_strings.count(token)) {
    s.wcb.clear();
    size_t p = 0;
    while (p < token.size()) {
      s.wcb.push_back(static_cast<uint32_t>(p));
      unicode::decode_utf8(token, p);
    }
    const size_t nchars = s.wcb.size();
    s.wcb.push_back(static_cast<uint32_t>(token.size()));
    s.t_sb.assign(nchars, src_begin);
    s.t_se.assign(nchars, src_end);
    wordpiece(token.data(), nchars, ArrayMap{s.wcb.data(), s.t_sb.data(), s.t_se.data()},
              word++, out);
    return true;
  }
  return false;
}

void WordPieceTokenizer::Impl::flush_simple(Scratch& s, int32_t& word,
                                            std::vector<Piece>& out) const {
  // A contiguous ASCII token cannot equal a special token (the raw-text scan would have split
  // it out), so only the user's never_split list needs checking. NFC, lower-casing (already
  // done) and accent stripping are identities on ASCII.
  const size_t base = s.simple_src;
  if (!never_split.empty() &&
      kept_whole(s, word, out, s.buf, base, base + s.buf.size()))
    return;
  const auto& at = *ascii;
  const char* w = s.buf.data();
  const size_t n = s.buf.size();
  size_t run = 0;
  for (size_t k = 0; k < n; ++k) {
    if (at.cls[static_cast<unsigned char>(w[k])] != unicode::kAsciiPunct) continue;
    if (k > run) wordpiece(w + run, k - run, IdentityMap{base + run}, word++, out);
    wordpiece(w + k, 1, IdentityMap{base + k}, word++, out);
    run = k + 1;
  }
  if (n > run) wordpiece(w + run, n - run, IdentityMap{base + run}, word++, out);
}

// NFC of the token with per-char source ranges kept. NFC only composes a starter with the
// marks that follow it (or, for Hangul and a few scripts, with the next starter), so the token
// is normalised cluster by cluster (a starter plus its marks) and each output char gets its
// cluster's source range; if composition crossed clusters, every char gets the whole token's
// range. The ids never depend on this choice, only the offsets.
void WordPieceTokenizer::Impl::nfc_aligned(Scratch& s) const {
  s.t_nfc.assign(s.cps.begin(), s.cps.end());
  unicode::nfc(s.t_nfc, s.t_dec, s.t32);
  if (s.t_nfc == s.cps) return;
  const size_t n = s.cps.size();
  s.t_cps.clear();
  s.t_sb.clear();
  s.t_se.clear();
  std::vector<char32_t> cluster;
  size_t a = 0;
  while (a < n) {
    size_t b = a + 1;
    while (b < n && unicode::combining_class(s.cps[b]) != 0) ++b;
    cluster.assign(s.cps.begin() + a, s.cps.begin() + b);
    unicode::nfc(cluster, s.t_dec, s.t32);
    for (char32_t cp : cluster) {
      s.t_cps.push_back(cp);
      s.t_sb.push_back(s.sb[a]);
      s.t_se.push_back(s.se[b - 1]);
    }
    a = b;
  }
  if (s.t_cps != s.t_nfc) {
    const size_t b0 = s.sb.front(), e0 = s.se.back();
    s.t_cps = s.t_nfc;
    s.t_sb.assign(s.t_cps.size(), b0);
    s.t_se.assign(s.t_cps.size(), e0);
  }
  s.cps.swap(s.t_cps);
  s.sb.swap(s.t_sb);
  s.se.swap(s.t_se);
}

// BertTokenizer's _run_strip_accents: NFD, then drop category Mn. Decomposing char by char keeps
// each piece's source range. Canonical reordering may only be skipped for the Mn marks that are
// dropped anyway: filtering them out commutes with the stable sort, so the survivors are sorted
// afterwards (a no-op unless a spacing mark with a non-zero class survives).
void WordPieceTokenizer::Impl::strip_accents_aligned(Scratch& s) const {
  const size_t n = s.cps.size();
  bool touched = false;
  for (size_t i = 0; i < n && !touched; ++i) touched = s.cps[i] >= 0xC0;
  if (!touched) return;  // below U+00C0 nothing decomposes and nothing is a mark
  s.t_cps.clear();
  s.t_sb.clear();
  s.t_se.clear();
  bool need_order = false;
  for (size_t i = 0; i < n; ++i) {
    const char32_t cp = s.cps[i];
    if (cp < 0xC0) {
      s.t_cps.push_back(cp);
      s.t_sb.push_back(s.sb[i]);
      s.t_se.push_back(s.se[i]);
      continue;
    }
    s.t_dec.clear();
    unicode::append_canonical_decomposition(cp, s.t_dec);
    for (char32_t d : s.t_dec) {
      if (unicode::is_nonspacing_mark(d)) continue;
      if (unicode::combining_class(d) != 0) need_order = true;
      s.t_cps.push_back(d);
      s.t_sb.push_back(s.sb[i]);
      s.t_se.push_back(s.se[i]);
    }
  }
  if (need_order) {
    for (size_t i = 1; i < s.t_cps.size(); ++i) {
      const int ci = unicode::combining_class(s.t_cps[i]);
      if (ci == 0) continue;
      size_t j = i;
      while (j > 0) {
        const int cj = unicode::combining_class(s.t_cps[j - 1]);
        if (cj == 0 || cj <= ci) break;
        std::swap(s.t_cps[j], s.t_cps[j - 1]);
        std::swap(s.t_sb[j], s.t_sb[j - 1]);
        std::swap(s.t_se[j], s.t_se[j - 1]);
        --j;
      }
    }
  }
  s.cps.swap(s.t_cps);
  s.sb.swap(s.t_sb);
  s.se.swap(s.t_se);
}

void WordPieceTokenizer::Impl::flush_general(Scratch& s, int32_t& word,
                                             std::vector<Piece>& out) const {
  bool high = false;  // NFC is the identity on text below U+0300
  for (char32_t cp : s.cps) high |= cp >= 0x300;
  // Whether the token may be kept whole: user never_split entries can be anything. A special
  // token string (ASCII in practice) can only be matched by a token with as many chars whose
  // first char is the special's first char or a non-ASCII one: a token whose NFC is ASCII maps
  // char for char (compositions never yield ASCII; only singletons such as U+212A KELVIN SIGN
  // do).
  bool check = !never_split.empty();
  for (size_t k = 0; k < special_char_counts.size() && !check; ++k) {
    check = special_char_counts[k] == s.cps.size() &&
            (s.cps[0] >= 0x80 || s.cps[0] == static_cast<unsigned char>(specials[k].text[0]));
  }
  // With accent stripping, NFD follows and NFD(NFC(x)) == NFD(x): NFC is only needed for the
  // never_split comparison.
  if (high && (!strip || check)) nfc_aligned(s);
  if (check) {
    s.tmp.clear();
    for (char32_t cp : s.cps) unicode::append_utf8(s.tmp, cp);
    if (kept_whole(s, word, out, s.tmp, s.sb.front(), s.se.back())) return;
  }
  // Lower-casing already happened per char in process_segment; it is idempotent, so
  // BasicTokenizer's second token.lower() changes nothing.
  if (strip) strip_accents_aligned(s);
  const size_t n = s.cps.size();
  size_t run = 0;
  for (size_t k = 0; k < n; ++k) {
    if (!unicode::is_punctuation(s.cps[k])) continue;
    if (k > run) emit_general_word(s, run, k, word++, out);
    emit_general_word(s, k, k + 1, word++, out);
    run = k + 1;
  }
  if (n > run) emit_general_word(s, run, n, word++, out);
}

void WordPieceTokenizer::Impl::emit_general_word(Scratch& s, size_t a, size_t b, int32_t word,
                                                 std::vector<Piece>& out) const {
  if (b - a > opt.max_input_chars_per_word) {  // [UNK] whatever it contains: skip the copy
    out.push_back({unk, word, s.sb[a], s.se[b - 1]});
    return;
  }
  s.wbytes.clear();
  s.wcb.clear();
  for (size_t k = a; k < b; ++k) {
    s.wcb.push_back(static_cast<uint32_t>(s.wbytes.size()));
    unicode::append_utf8(s.wbytes, s.cps[k]);
  }
  s.wcb.push_back(static_cast<uint32_t>(s.wbytes.size()));
  wordpiece(s.wbytes.data(), b - a, ArrayMap{s.wcb.data(), s.sb.data() + a, s.se.data() + a},
            word, out);
}

// Greedy longest-match-first: at each position try the longest candidate that can be in the
// vocabulary (bounded by the longest entry, in bytes) and shrink one char at a time. A word
// with an unmatched position, or longer than max_input_chars_per_word chars, is one [UNK].
template <class Map>
void WordPieceTokenizer::Impl::wordpiece(const char* w, size_t nchars, const Map& m,
                                         int32_t word, std::vector<Piece>& out) const {
  if (nchars == 0) return;
  if (nchars > opt.max_input_chars_per_word) {
    out.push_back({unk, word, m.src_begin(0), m.src_end(nchars - 1)});
    return;
  }
  const size_t first = out.size();
  size_t start = 0;
  while (start < nchars) {
    const StringIndex& index = start == 0 ? full : cont;
    const size_t limit = start == 0 ? max_full_bytes : max_cont_bytes;
    const size_t b0 = m.byte(start);
    size_t end = nchars;
    if (m.byte(end) - b0 > limit) {
      if constexpr (std::is_same_v<Map, IdentityMap>) {
        end = start + limit;
      } else {
        while (end > start && m.byte(end) - b0 > limit) --end;
      }
    }
    int32_t id = -1;
    for (; end > start; --end) {
      id = index.find(w + b0, m.byte(end) - b0);
      if (id >= 0) break;
    }
    if (id < 0) {
      out.resize(first);
      out.push_back({unk, word, m.src_begin(0), m.src_end(nchars - 1)});
      return;
    }
    out.push_back({id, word, m.src_begin(start), m.src_end(end - 1)});
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------

WordPieceTokenizer::WordPieceTokenizer(WordPieceOptions options) : impl_(std::make_unique<Impl>()) {
  std::vector<std::string> lines = read_vocab_file(options.vocab_path);
  impl_->init(std::move(lines), std::move(options));
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->init(std::move(vocab), std::move(options));
}

WordPieceTokenizer::~WordPieceTokenizer() = default;
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;

namespace {

std::string json_type_name(const nlohmann::json& v) { return v.type_name(); }

// Special tokens appear in tokenizer_config.json either as strings or as serialised AddedToken
// objects ({"content": "[CLS]", ...}).
std::optional<std::string> special_from_json(const nlohmann::json& cfg, const char* key,
                                             const std::string& file) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  const auto& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  throw Error("tokenizer config '" + file + "': key \"" + key +
              "\": expected a string or an object with \"content\", found " + json_type_name(v));
}

// A whole JSON file; `what` names it in errors ("tokenizer config 'path': ...").
nlohmann::json read_json(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string(what) + " '" + path + "': cannot open it");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string(what) + " '" + path + "': expected JSON, parse error: " + e.what());
  }
}

// The vocabulary and settings of a `tokenizers` tokenizer.json holding a WordPiece model (what
// transformers 5's save_pretrained writes for BERT instead of vocab.txt): model.vocab maps each
// token to its id, which must run 0..n-1; the BertNormalizer's lowercase / strip_accents /
// handle_chinese_chars and the model's unk_token / max_input_chars_per_word become options
// (tokenizer_config.json, read afterwards, may still override them).
std::vector<std::string> read_tokenizer_json_vocab(const std::string& path, WordPieceOptions& opt) {
  const nlohmann::json j = read_json(path, "tokenizer file");
  auto error = [&](const std::string& what) { return Error("tokenizer file '" + path + "': " + what); };
  auto text = [](const nlohmann::json& object, const char* key) {  // "" where absent or not a string
    return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : std::string();
  };
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) throw error("expected an object with a \"model\"");
  const auto& model = j["model"];
  const std::string type = text(model, "type");
  if (type != "WordPiece")
    throw error("model type \"" + type + "\" is not supported (expected WordPiece, as BERT's tokenizer.json has" +
                (type == "Unigram" || type == "BPE"
                     ? "; a Unigram or BPE tokenizer.json is read as a sentencepiece tokenizer unless "
                       "tokenizer_config.json names a WordPiece class)"
                     : ")"));
  if (model.contains("continuing_subword_prefix") && text(model, "continuing_subword_prefix") != "##")
    throw error("continuing_subword_prefix " + model["continuing_subword_prefix"].dump() +
                " is not supported (expected \"##\")");
  if (!model.contains("vocab") || !model["vocab"].is_object() || model["vocab"].empty())
    throw error("model.vocab: expected an object mapping tokens to ids");
  std::vector<std::string> vocab(model["vocab"].size());
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= vocab.size() || seen[id.get<size_t>()])
      throw error("model.vocab: token \"" + token + "\" has id " + id.dump() + "; expected each id of 0.." +
                  std::to_string(vocab.size() - 1) + " exactly once");
    vocab[id.get<size_t>()] = token;
    seen[id.get<size_t>()] = true;
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const auto& added : j["added_tokens"]) {  // BERT's are its specials, already in the vocabulary
      const std::string content = text(added, "content");
      const bool in_vocab = added.contains("id") && added["id"].is_number_unsigned() &&
                            added["id"].get<uint64_t>() < vocab.size() && vocab[added["id"].get<size_t>()] == content;
      if (!in_vocab)
        throw error("added token " + added.dump() + " is not in model.vocab under its id (not supported)");
    }
  }
  if (!text(model, "unk_token").empty()) opt.unk_token = text(model, "unk_token");
  if (model.contains("max_input_chars_per_word") && model["max_input_chars_per_word"].is_number_unsigned())
    opt.max_input_chars_per_word = model["max_input_chars_per_word"].get<size_t>();
  if (j.contains("normalizer") && j["normalizer"].is_object()) {
    const auto& n = j["normalizer"];
    if (text(n, "type") != "BertNormalizer")
      throw error("normalizer " + (n.contains("type") ? n["type"].dump() : std::string("without a type")) +
                  " is not supported (expected BertNormalizer)");
    if (n.contains("clean_text") && n["clean_text"] == false)
      throw error("normalizer clean_text false is not supported (BERT's tokenizer always cleans the text)");
    if (n.contains("lowercase") && n["lowercase"].is_boolean()) opt.do_lower_case = n["lowercase"];
    if (n.contains("strip_accents") && n["strip_accents"].is_boolean()) opt.strip_accents = n["strip_accents"].get<bool>();
    if (n.contains("handle_chinese_chars") && n["handle_chinese_chars"].is_boolean())
      opt.tokenize_chinese_chars = n["handle_chinese_chars"];
  }
  return vocab;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_directory(const std::string& dir) {
  WordPieceOptions opt;
  opt.vocab_path = (fs::path(dir) / "vocab.txt").string();
  // No vocab.txt: the vocabulary of tokenizer.json, as transformers 5 saves a BERT tokenizer.
  std::vector<std::string> json_vocab;
  const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
  std::error_code exists_ec;
  if (!fs::exists(opt.vocab_path, exists_ec) && fs::exists(json_path, exists_ec)) {
    json_vocab = read_tokenizer_json_vocab(json_path, opt);
    opt.vocab_path = json_path;  // for messages
  }
  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  std::error_code ec;
  if (fs::exists(cfg_path, ec)) {
    const nlohmann::json cfg = read_json(cfg_path, "tokenizer config");
    if (!cfg.is_object()) {
      throw Error("tokenizer config '" + cfg_path + "': expected a JSON object, found " +
                  json_type_name(cfg));
    }
    auto get_bool = [&](const char* key, bool& dst) {
      if (!cfg.contains(key) || cfg[key].is_null()) return;
      if (!cfg[key].is_boolean()) {
        throw Error("tokenizer config '" + cfg_path + "': key \"" + key +
                    "\": expected true or false, found " + json_type_name(cfg[key]));
      }
      dst = cfg[key].get<bool>();
    };
    get_bool("do_lower_case", opt.do_lower_case);
    get_bool("tokenize_chinese_chars", opt.tokenize_chinese_chars);
    if (cfg.contains("strip_accents") && !cfg["strip_accents"].is_null()) {
      bool v = false;
      get_bool("strip_accents", v);
      opt.strip_accents = v;
    }
    bool basic = true;
    get_bool("do_basic_tokenize", basic);
    if (!basic) {
      throw Error("tokenizer config '" + cfg_path +
                  "': \"do_basic_tokenize\": expected true (the only mode implemented), "
                  "found false");
    }
    if (cfg.contains("never_split") && !cfg["never_split"].is_null()) {
      const auto& ns = cfg["never_split"];
      if (!ns.is_array()) {
        throw Error("tokenizer config '" + cfg_path +
                    "': key \"never_split\": expected null or a list of strings, found " +
                    json_type_name(ns));
      }
      for (const auto& t : ns) {
        if (!t.is_string()) {
          throw Error("tokenizer config '" + cfg_path +
                      "': key \"never_split\": expected strings, found " + json_type_name(t));
        }
        opt.never_split.push_back(t.get<std::string>());
      }
    }
    if (cfg.contains("max_input_chars_per_word")) {
      const auto& v = cfg["max_input_chars_per_word"];
      if (!v.is_number_unsigned() || v.get<uint64_t>() == 0) {
        throw Error("tokenizer config '" + cfg_path +
                    "': key \"max_input_chars_per_word\": expected a positive integer, found " +
                    (v.is_number_unsigned() ? v.dump() : json_type_name(v)));
      }
      opt.max_input_chars_per_word = v.get<size_t>();
    }
    if (auto t = special_from_json(cfg, "unk_token", cfg_path)) opt.unk_token = *t;
    if (auto t = special_from_json(cfg, "cls_token", cfg_path)) opt.cls_token = *t;
    if (auto t = special_from_json(cfg, "sep_token", cfg_path)) opt.sep_token = *t;
    if (auto t = special_from_json(cfg, "pad_token", cfg_path)) opt.pad_token = *t;
    if (auto t = special_from_json(cfg, "mask_token", cfg_path)) opt.mask_token = *t;
  }
  if (!json_vocab.empty()) return WordPieceTokenizer(std::move(json_vocab), std::move(opt));
  return WordPieceTokenizer(std::move(opt));
}

void WordPieceTokenizer::save(const std::string& dir) const {
  const Impl& m = *impl_;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("tokenizer directory '" + dir + "': cannot create it: " + ec.message());
  auto write_file = [](const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot open '" + path + "' for writing");
    out << content;
    out.close();
    if (!out) throw Error("write error on '" + path + "'");
  };

  std::string vocab_text;
  for (const auto& t : m.vocab) {
    vocab_text += t;
    vocab_text += '\n';
  }
  write_file((fs::path(dir) / "vocab.txt").string(), vocab_text);

  nlohmann::json specials = {{"unk_token", m.opt.unk_token},
                             {"sep_token", m.opt.sep_token},
                             {"pad_token", m.opt.pad_token},
                             {"cls_token", m.opt.cls_token},
                             {"mask_token", m.opt.mask_token}};
  nlohmann::json cfg = specials;
  cfg["tokenizer_class"] = "BertTokenizer";
  cfg["do_lower_case"] = m.opt.do_lower_case;
  cfg["do_basic_tokenize"] = true;
  cfg["tokenize_chinese_chars"] = m.opt.tokenize_chinese_chars;
  cfg["strip_accents"] =
      m.opt.strip_accents ? nlohmann::json(*m.opt.strip_accents) : nlohmann::json(nullptr);
  cfg["never_split"] =
      m.opt.never_split.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.opt.never_split);
  cfg["clean_up_tokenization_spaces"] = true;
  // Not a transformers option (it hard-codes 100); written only when it differs so that a
  // directory saved here reloads identically here.
  if (m.opt.max_input_chars_per_word != 100)
    cfg["max_input_chars_per_word"] = m.opt.max_input_chars_per_word;
  write_file((fs::path(dir) / "tokenizer_config.json").string(), cfg.dump(2) + "\n");
  write_file((fs::path(dir) / "special_tokens_map.json").string(), specials.dump(2) + "\n");
}

Encoding WordPieceTokenizer::encode(std::string_view text, std::optional<std::string_view> pair,
                                    size_t max_length) const {
  const Impl& m = *impl_;
  Scratch& s = scratch();
  std::vector<Piece> a, b;
  a.swap(s.first);  // borrow the thread's buffers (tokenize_text itself uses the rest)
  b.swap(s.second);
  a.clear();
  b.clear();
  m.tokenize_text(text, a);
  if (pair) m.tokenize_text(*pair, b);

  const auto [keep_a, keep_b] = longest_first_lengths(a.size(), b.size(), pair.has_value(), max_length);
  a.resize(keep_a);
  b.resize(keep_b);

  Encoding e = assemble_encoding(a, b, pair.has_value(), m.cls, m.sep,
                                 [&](int64_t id) { return m.vocab[static_cast<size_t>(id)]; });
  a.swap(s.first);
  b.swap(s.second);
  return e;
}

std::vector<int64_t> WordPieceTokenizer::encode_ids(std::string_view text) const {
  std::vector<Piece> pieces;
  impl_->tokenize_text(text, pieces);
  std::vector<int64_t> ids;
  ids.reserve(pieces.size());
  for (const Piece& p : pieces) ids.push_back(p.id);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<Piece> pieces;
  impl_->tokenize_text(text, pieces);
  std::vector<std::string> tokens;
  tokens.reserve(pieces.size());
  for (const Piece& p : pieces) tokens.push_back(impl_->vocab[static_cast<size_t>(p.id)]);
  return tokens;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids,
                                       bool skip_special_tokens) const {
  const Impl& m = *impl_;
  // transformers: convert_ids_to_tokens (skipping all special ids, [UNK] included), then
  // " ".join(tokens).replace(" ##", "").strip(), then clean_up_tokenization.
  std::string text;
  bool first = true;
  for (int64_t id : ids) {
    if (skip_special_tokens &&
        (id == m.unk || id == m.cls || id == m.sep || id == m.pad || id == m.mask))
      continue;
    if (!first) text += ' ';
    first = false;
    text += (id >= 0 && id < static_cast<int64_t>(m.vocab.size()))
                ? m.vocab[static_cast<size_t>(id)]
                : m.opt.unk_token;
  }
  replace_all(text, " ##", "");
  text = python_strip(text);
  static const std::pair<std::string_view, std::string_view> kCleanup[] = {
      {" .", "."},    {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kCleanup) replace_all(text, from, to);
  return text;
}

int64_t WordPieceTokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->vocab.size());
}

int64_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  return impl_->id_of(token);
}

std::string WordPieceTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(impl_->vocab.size())) return impl_->opt.unk_token;
  return impl_->vocab[static_cast<size_t>(id)];
}

int64_t WordPieceTokenizer::pad_id() const { return impl_->pad; }
int64_t WordPieceTokenizer::unk_id() const { return impl_->unk; }
int64_t WordPieceTokenizer::cls_id() const { return impl_->cls; }
int64_t WordPieceTokenizer::sep_id() const { return impl_->sep; }
int64_t WordPieceTokenizer::mask_id() const { return impl_->mask; }

const WordPieceOptions& WordPieceTokenizer::options() const { return impl_->opt; }
bool WordPieceTokenizer::strips_accents() const { return impl_->strip; }

}  // namespace bert::tokenizer
