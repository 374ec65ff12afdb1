// Reader and writer of the safetensors format (see safetensors.h for the layout).
//
// Reading validates the whole header against the file size before allocating anything, so a
// damaged or hostile file can neither crash us nor make us allocate more than the file holds.
// Each tensor's bytes are then read (pread) straight into that tensor's own torch::empty
// storage: one copy from the page cache, no whole-file buffer, no alignment concerns (the
// format does not align data offsets), and every tensor frees its memory independently.
// Writing streams each tensor from its own (contiguous CPU) memory into `path + ".tmp"`,
// fsyncs and renames, so `path` is only ever the old file or the complete new one.
#include "bert/io/safetensors.h"

#include "bert/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// The format stores little-endian bytes and we copy them verbatim.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace bert::io {
namespace {

using nlohmann::json;

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
  std::size_t itemsize;
};

// The dtypes we read and write. Newer safetensors versions define more (F8_*, U16..U64, C64),
// which LibTorch either lacks or we have no use for; they are reported as unsupported.
constexpr DtypeInfo kDtypes[] = {
    {"F64", c10::ScalarType::Double, 8}, {"F32", c10::ScalarType::Float, 4},
    {"F16", c10::ScalarType::Half, 2},   {"BF16", c10::ScalarType::BFloat16, 2},
    {"I64", c10::ScalarType::Long, 8},   {"I32", c10::ScalarType::Int, 4},
    {"I16", c10::ScalarType::Short, 2},  {"I8", c10::ScalarType::Char, 1},
    {"U8", c10::ScalarType::Byte, 1},    {"BOOL", c10::ScalarType::Bool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(c10::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string supported_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::string offsets_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// nlohmann's type_name() gives "number" for all numbers; say which kind when it matters.
std::string json_kind(const json& j) {
  if (j.is_number_float()) return "number " + j.dump();
  if (j.is_number()) return "integer " + j.dump();
  return j.type_name();
}

std::string errno_text(int err) { return std::strerror(err); }

// nlohmann's messages start with "[json.exception.parse_error.101] "; users need only the rest.
std::string json_error_text(const json::exception& ex) {
  std::string s = ex.what();
  auto pos = s.find("] ");
  return s.compare(0, 1, "[") == 0 && pos != std::string::npos ? s.substr(pos + 2) : s;
}

// pread until `size` bytes are in or the file ends early; returns false on a short file.
bool pread_all(int fd, void* dst, std::size_t size, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": read failed: " + errno_text(errno));
    }
    if (n == 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// One validated header entry.
struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// A non-negative JSON integer, or an error naming what was found. nlohmann stores
// non-negative literals as unsigned and negative ones as signed; floats (including integers
// too large for 64 bits, which it parses as floats) are rejected.
uint64_t json_uint(const json& j, const std::string& what, const std::string& ctx) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
    throw Error(ctx + what + " is negative (" + std::to_string(v) + ")");
  }
  throw Error(ctx + what + " must be a non-negative 64-bit integer, found " + json_kind(j));
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  const std::string ctx = path + ": tensor '" + name + "' ";
  if (!v.is_object()) throw Error(ctx + "must be a JSON object, found " + json_kind(v));

  auto field = [&](const char* key) -> const json& {
    auto it = v.find(key);
    if (it == v.end()) throw Error(ctx + "is missing \"" + key + "\"");
    return *it;
  };
  const json& jdtype = field("dtype");
  const json& jshape = field("shape");
  const json& joffsets = field("data_offsets");

  Entry e;
  e.name = name;
  if (!jdtype.is_string()) throw Error(ctx + "\"dtype\" must be a string, found " + json_kind(jdtype));
  const auto dtype_name = jdtype.get<std::string>();
  e.dtype = dtype_by_name(dtype_name);
  if (!e.dtype)
    throw Error(ctx + "has unknown dtype '" + dtype_name + "' (supported: " + supported_dtypes() + ")");

  if (!jshape.is_array()) throw Error(ctx + "\"shape\" must be an array, found " + json_kind(jshape));
  // numel * itemsize is computed in 64 bits with overflow checks: a wrapped product could
  // otherwise "match" small data_offsets and make us allocate a wrong-sized tensor.
  uint64_t bytes = e.dtype->itemsize;
  // LibTorch also computes the contiguous strides, the products of the later dimensions with
  // zeros counted as 1, and throws its own c10::Error when they overflow int64: a zero-size
  // tensor such as [0, 2^62, 2^62] passes the byte count (0) but not that.
  uint64_t extent = 1;
  bool overflow = false, extent_overflow = false;
  for (std::size_t i = 0; i < jshape.size(); ++i) {
    uint64_t d = json_uint(jshape[i], "shape[" + std::to_string(i) + "]", ctx);
    if (d > static_cast<uint64_t>(INT64_MAX)) overflow = true;
    if (__builtin_mul_overflow(bytes, d, &bytes)) overflow = true;
    if (__builtin_mul_overflow(extent, std::max<uint64_t>(d, 1), &extent)) extent_overflow = true;
    e.shape.push_back(static_cast<int64_t>(d));
  }
  if (overflow || bytes > static_cast<uint64_t>(INT64_MAX))
    throw Error(ctx + "shape " + jshape.dump() + " overflows: its byte size does not fit in 64 bits");
  if (extent_overflow || extent > static_cast<uint64_t>(INT64_MAX))
    throw Error(ctx + "shape " + jshape.dump() +
                " overflows: the product of its non-zero dimensions does not fit in 64 bits");

  if (!joffsets.is_array() || joffsets.size() != 2)
    throw Error(ctx + "\"data_offsets\" must be an array of 2 integers, found " + joffsets.dump());
  e.begin = json_uint(joffsets[0], "data_offsets[0]", ctx);
  e.end = json_uint(joffsets[1], "data_offsets[1]", ctx);
  if (e.begin > e.end)
    throw Error(ctx + "data_offsets " + offsets_str(e.begin, e.end) + " have begin > end");
  if (e.end - e.begin != bytes)
    throw Error(ctx + "data_offsets " + offsets_str(e.begin, e.end) + " do not match dtype " + e.dtype->name +
                " and shape " + shape_str(e.shape) + " (" + std::to_string(bytes) + " bytes)");
  return e;
}

// Parses the header, rejecting repeated keys (nlohmann would silently keep the last one,
// hiding a tensor). Keys are tracked per object nesting level through the parser callback.
json parse_header(const std::string& path, const std::string& text) {
  std::vector<std::set<std::string>> seen;
  std::optional<std::string> duplicate;
  auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      seen.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      seen.pop_back();
    } else if (ev == json::parse_event_t::key && !seen.empty()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!seen.back().insert(k).second && !duplicate) duplicate = k;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& ex) {
    throw Error(path + ": header is not valid JSON: " + json_error_text(ex));
  }
  if (!header.is_object()) throw Error(path + ": header is not a JSON object, found " + json_kind(header));
  if (duplicate) throw Error(path + ": header repeats the key '" + *duplicate + "'");
  return header;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw Error(path + ": cannot open: " + errno_text(errno));
  struct stat st;
  if (::fstat(f.fd, &st) != 0) throw Error(path + ": cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  if (file_size < 8)
    throw Error(path + ": file is " + std::to_string(file_size) +
                " bytes, too short for the 8-byte header length");
  unsigned char len_bytes[8];
  if (!pread_all(f.fd, len_bytes, 8, 0, path)) throw Error(path + ": file shrank while reading");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8)
    throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the " +
                std::to_string(file_size - 8) + " bytes that follow it in the file");

  std::string text(header_len, '\0');
  if (!pread_all(f.fd, text.data(), text.size(), 8, path)) throw Error(path + ": file shrank while reading");
  const json header = parse_header(path, text);

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = file_size - data_start;

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {  // nlohmann's object is a std::map: sorted keys
    if (key == "__metadata__") {
      if (!value.is_object())
        throw Error(path + ": \"__metadata__\" must be a JSON object of strings, found " + json_kind(value));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw Error(path + ": \"__metadata__\" value of '" + mk + "' must be a string, found " + json_kind(mv));
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    Entry e = parse_entry(path, key, value);
    if (e.end > data_len)
      throw Error(path + ": tensor '" + key + "' data_offsets " + offsets_str(e.begin, e.end) +
                  " extend beyond the data section (" + std::to_string(data_len) + " bytes)");
    entries.push_back(std::move(e));
  }

  // The format requires the tensors to tile the data section exactly: sorted by offset, each
  // begins where the previous ends, the first at 0 and the last at the end of the file.
  // Zero-size tensors ([k, k]) sort before a tensor starting at k, so they fit anywhere
  // between tensors but not inside one.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < covered)
      throw Error(path + ": tensors '" + prev->name + "' data_offsets " + offsets_str(prev->begin, prev->end) +
                  " and '" + e->name + "' data_offsets " + offsets_str(e->begin, e->end) + " overlap");
    if (e->begin > covered)
      throw Error(path + ": data bytes " + offsets_str(covered, e->begin) +
                  " belong to no tensor (a hole before tensor '" + e->name + "')");
    covered = e->end;
    prev = e;
  }
  if (covered != data_len)
    throw Error(path + ": data section is " + std::to_string(data_len) + " bytes but the tensors cover only " +
                std::to_string(covered) + " (trailing bytes belong to no tensor)");

  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only; failure is harmless
  std::vector<torch::Tensor> tensors(entries.size());
  for (const Entry* e : by_offset) {  // offset order: one sequential pass over the file
    auto t = torch::empty(e->shape, torch::TensorOptions().dtype(e->dtype->type));
    const std::size_t n = static_cast<std::size_t>(e->end - e->begin);
    if (n > 0 && !pread_all(f.fd, t.data_ptr(), n, data_start + e->begin, path))
      throw Error(path + ": file shrank while reading tensor '" + e->name + "'");
    // A bool byte other than 0/1 is undefined behaviour in torch's kernels; reject it here.
    if (e->dtype->type == c10::ScalarType::Bool) {
      const auto* b = static_cast<const unsigned char*>(t.data_ptr());
      for (std::size_t i = 0; i < n; ++i)
        if (b[i] > 1)
          throw Error(path + ": BOOL tensor '" + e->name + "' holds byte value " + std::to_string(b[i]) +
                      " (must be 0 or 1)");
    }
    tensors[static_cast<std::size_t>(e - entries.data())] = std::move(t);
  }
  out.tensors.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) out.tensors.emplace_back(entries[i].name, std::move(tensors[i]));
  return out;
}

namespace {

// Removes the temporary file unless the write completed and it was renamed into place.
struct TmpFile {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~TmpFile() {
    if (fd >= 0) ::close(fd);
    if (!keep) ::unlink(path.c_str());
  }
};

void write_all(TmpFile& tmp, const void* src, std::size_t size, const std::string& path) {
  const auto* p = static_cast<const char*>(src);
  while (size > 0) {
    ssize_t n = ::write(tmp.fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": write to " + tmp.path + " failed: " + errno_text(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Lay out and validate everything before touching the disk, so a bad argument leaves no file.
  struct Item {
    const std::string* name;
    const torch::Tensor* tensor;
    const DtypeInfo* dtype;
    uint64_t begin, end;
  };
  std::vector<Item> items;
  items.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    const std::string ctx = path + ": cannot write tensor '" + name + "': ";
    if (name == "__metadata__") throw Error(ctx + "the name is reserved for the metadata");
    if (!t.defined()) throw Error(ctx + "tensor is undefined");
    if (t.layout() != c10::kStrided) throw Error(ctx + "only dense (strided) tensors can be stored");
    const DtypeInfo* d = dtype_by_type(t.scalar_type());
    if (!d)
      throw Error(ctx + "dtype " + std::string(c10::toString(t.scalar_type())) +
                  " is not supported (supported: " + supported_dtypes() + ")");
    items.push_back({&name, &t, d, 0, 0});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return *a.name < *b.name; });
  for (std::size_t i = 1; i < items.size(); ++i)
    if (*items[i].name == *items[i - 1].name)
      throw Error(path + ": cannot write tensor '" + *items[i].name + "': the name appears twice");

  std::string header = "{";
  try {
    if (!metadata.empty()) header += "\"__metadata__\":" + json(metadata).dump();
    uint64_t offset = 0;
    for (auto& it : items) {
      it.begin = offset;
      it.end = offset + static_cast<uint64_t>(it.tensor->numel()) * it.dtype->itemsize;
      offset = it.end;
      if (header.size() > 1) header += ',';
      header += json(*it.name).dump() + ":{\"dtype\":\"" + it.dtype->name + "\",\"shape\":" +
                json(it.tensor->sizes().vec()).dump() + ",\"data_offsets\":[" + std::to_string(it.begin) + "," +
                std::to_string(it.end) + "]}";
    }
  } catch (const json::exception& ex) {  // e.g. a name or metadata string that is not UTF-8
    throw Error(path + ": cannot encode the header: " + json_error_text(ex));
  }
  header += '}';
  // Spaces are valid JSON whitespace; padding to 8 keeps the data section 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  TmpFile tmp;
  tmp.path = path + ".tmp";
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tmp.fd < 0) throw Error(path + ": cannot create " + tmp.path + ": " + errno_text(errno));

  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(uint64_t{header.size()} >> (8 * i));
  write_all(tmp, len_bytes, 8, path);
  write_all(tmp, header.data(), header.size(), path);
  for (const auto& it : items) {
    // One tensor at a time, so at most one extra CPU copy (of a GPU or strided tensor) exists.
    auto t = it.tensor->detach().to(c10::kCPU).resolve_conj().resolve_neg().contiguous();
    write_all(tmp, t.data_ptr(), static_cast<std::size_t>(it.end - it.begin), path);
  }
  if (::fsync(tmp.fd) != 0) throw Error(path + ": fsync of " + tmp.path + " failed: " + errno_text(errno));
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw Error(path + ": close of " + tmp.path + " failed: " + errno_text(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot rename " + tmp.path + " to it: " + errno_text(errno));
  tmp.keep = true;

  // Make the rename itself durable. Best effort: the file is already complete under `path`,
  // and some filesystems refuse fsync on a directory.
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace bert::io
