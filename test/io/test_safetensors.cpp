// Tests of bert/io/safetensors: bit-exact round trips of every dtype, the written file checked
// against the format's rules by parsing it by hand (not with our reader), one hand-made bad
// file per validation rule (each must give a bert::Error naming the file and the problem),
// write failures (atomicity, disk full via RLIMIT_FSIZE) and the Hugging Face fixture.
#include "bert/io/safetensors.h"

#include "bert/util/error.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace fs = std::filesystem;
using bert::io::read_safetensors;
using bert::io::write_safetensors;
using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path dir;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bert_st_test_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

uint64_t read_le64(const std::string& s) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A file with the given header text (unpadded, as a sloppy writer might produce) and data.
std::string st_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// Expects `fn` to throw a bert::Error whose message names `path` and contains `phrase`.
template <class Fn>
void require_error(Fn&& fn, const std::string& path, const std::string& phrase) {
  INFO("expecting an error naming " << path << " containing: " << phrase);
  try {
    fn();
    FAIL("no exception thrown");
  } catch (const bert::Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(phrase) != std::string::npos);
  }
}

void require_read_error(const std::string& path, const std::string& phrase) {
  require_error([&] { read_safetensors(path); }, path, phrase);
}

// Bit-level equality: same dtype, same shape, same bytes (NaN payloads and -0 included).
bool bit_identical(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  auto ca = a.contiguous(), cb = b.contiguous();
  // Empty tensors may have a null data pointer, which memcmp must not see.
  return ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

// Random bit patterns of the given dtype: for float types this covers NaNs, infinities,
// subnormals and -0, which a value-based comparison would not check bit for bit.
torch::Tensor random_bits(c10::ScalarType type, std::vector<int64_t> shape) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (type == c10::ScalarType::Bool) return torch::randint(0, 2, shape, torch::kBool);
  const int64_t itemsize = static_cast<int64_t>(c10::elementSize(type));
  auto bytes = torch::randint(0, 256, {numel * itemsize}, torch::kByte);
  return bytes.view(type).reshape(shape).clone();
}

const std::vector<std::pair<c10::ScalarType, std::string>> kAllDtypes = {
    {c10::ScalarType::Double, "F64"}, {c10::ScalarType::Float, "F32"}, {c10::ScalarType::Half, "F16"},
    {c10::ScalarType::BFloat16, "BF16"}, {c10::ScalarType::Long, "I64"}, {c10::ScalarType::Int, "I32"},
    {c10::ScalarType::Short, "I16"}, {c10::ScalarType::Char, "I8"}, {c10::ScalarType::Byte, "U8"},
    {c10::ScalarType::Bool, "BOOL"},
};

// Restores a signal disposition and a resource limit at scope exit.
struct FileSizeLimit {
  struct rlimit old {};
  void (*old_handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t bytes) {
    // Exceeding RLIMIT_FSIZE raises SIGXFSZ (default: kill); ignored, write() fails with EFBIG.
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit lim = old;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
};

}  // namespace

TEST_CASE("safetensors: every dtype round-trips bit for bit", "[io][safetensors]") {
  TempDir tmp;
  const auto path = tmp.file("all.safetensors");
  torch::manual_seed(1234);
  TensorList in;
  for (const auto& [type, name] : kAllDtypes) {
    in.emplace_back("t." + name, random_bits(type, {3, 5}));
    in.emplace_back("odd." + name, random_bits(type, {7}));  // odd byte counts: unaligned offsets follow
    in.emplace_back("scalar." + name, random_bits(type, {}));
    in.emplace_back("empty." + name, random_bits(type, {0, 4}));
  }
  // Non-contiguous inputs are written in logical (row-major) order.
  auto base = random_bits(c10::ScalarType::Float, {4, 6});
  in.emplace_back("transposed", base.t());
  in.emplace_back("narrowed", base.narrow(0, 1, 2));  // nonzero storage offset
  in.emplace_back("needs_grad", torch::randn({3}).requires_grad_());
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcode ✓"}};

  write_safetensors(path, in, meta);
  CHECK_FALSE(fs::exists(path + ".tmp"));
  const auto out = read_safetensors(path);

  CHECK(out.metadata == meta);
  REQUIRE(out.tensors.size() == in.size());
  std::map<std::string, torch::Tensor> by_name(in.begin(), in.end());
  std::string prev;
  for (const auto& [name, t] : out.tensors) {
    INFO(name);
    CHECK(prev < name);  // returned sorted by name
    prev = name;
    REQUIRE(by_name.count(name) == 1);
    CHECK(bit_identical(t, by_name[name].detach()));
    CHECK(t.device().is_cpu());
    CHECK(t.is_contiguous());
    CHECK_FALSE(t.requires_grad());
  }
}

TEST_CASE("safetensors: the written file follows the format's rules", "[io][safetensors]") {
  TempDir tmp;
  const auto path = tmp.file("rules.safetensors");
  // Given unsorted, with dtypes of different sizes and one odd-sized tensor.
  TensorList in = {
      {"b.weight", torch::tensor({1, -2, 0x01020304}, torch::kInt)},
      {"a.bias", torch::tensor({true, false, true}, torch::kBool)},
      {"c", torch::tensor({1.5, -0.0}, torch::kDouble)},
      {"B.upper", torch::tensor({7}, torch::kByte)},
  };
  const bool with_meta = GENERATE(true, false);
  std::map<std::string, std::string> meta;
  if (with_meta) meta["format"] = "pt";
  write_safetensors(path, in, meta);

  const std::string file = read_bytes(path);
  REQUIRE(file.size() >= 8);
  const uint64_t n = read_le64(file);
  REQUIRE(8 + n <= file.size());
  CHECK(n % 8 == 0);
  const std::string header = file.substr(8, n);
  CHECK(header.front() == '{');
  const auto close = header.find_last_of('}');
  REQUIRE(close != std::string::npos);
  CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);  // padded with spaces only

  // ordered_json keeps the keys in the order they were written.
  const auto j = nlohmann::ordered_json::parse(header);
  REQUIRE(j.is_object());
  CHECK(j.contains("__metadata__") == with_meta);
  if (with_meta) CHECK(j["__metadata__"] == nlohmann::ordered_json{{"format", "pt"}});

  std::vector<std::string> keys;
  uint64_t expected_begin = 0;
  for (const auto& [key, v] : j.items()) {
    if (key == "__metadata__") continue;
    keys.push_back(key);
    const auto begin = v.at("data_offsets").at(0).get<uint64_t>();
    const auto end = v.at("data_offsets").at(1).get<uint64_t>();
    CHECK(begin == expected_begin);  // contiguous, in key order
    expected_begin = end;
  }
  CHECK(keys == std::vector<std::string>{"B.upper", "a.bias", "b.weight", "c"});  // byte order
  CHECK(expected_begin == file.size() - 8 - n);  // the last tensor ends the file

  const auto& b = j["b.weight"];
  CHECK(b["dtype"] == "I32");
  CHECK(b["shape"] == nlohmann::ordered_json::array({3}));
  const auto b_begin = b["data_offsets"][0].get<uint64_t>();
  // Little-endian raw bytes of {1, -2, 0x01020304}.
  const std::string expected_b("\x01\x00\x00\x00\xfe\xff\xff\xff\x04\x03\x02\x01", 12);
  CHECK(file.substr(8 + n + b_begin, 12) == expected_b);
  CHECK(j["a.bias"]["dtype"] == "BOOL");
  CHECK(j["c"]["dtype"] == "F64");
  CHECK(j["B.upper"]["dtype"] == "U8");
}

TEST_CASE("safetensors: empty files, zero-size tensors and unaligned offsets are read", "[io][safetensors]") {
  TempDir tmp;
  SECTION("no tensors") {
    const auto path = tmp.file("empty.safetensors");
    write_safetensors(path, {});
    const auto f = read_safetensors(path);
    CHECK(f.tensors.empty());
    CHECK(f.metadata.empty());
    CHECK(read_bytes(path) == le64(8) + "{}      ");
  }
  SECTION("hand-made: unpadded header, zero-size tensor between others, unaligned F32") {
    const auto path = tmp.file("hand.safetensors");
    std::string data = std::string("\x01\xff\x7f", 3);  // I8 [1, -1, 127]
    const float vals[2] = {1.25f, -3.5f};
    data.append(reinterpret_cast<const char*>(vals), 8);  // F32 at offset 3
    write_bytes(path, st_file(R"({"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},)"
                              R"("z":{"dtype":"F32","shape":[2,0],"data_offsets":[3,3]},)"
                              R"("f":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})",
                              data));
    const auto f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 3);
    CHECK(f.tensors[0].first == "a");
    CHECK(torch::equal(f.tensors[0].second, torch::tensor({1, -1, 127}, torch::kChar)));
    CHECK(f.tensors[1].first == "f");
    CHECK(torch::equal(f.tensors[1].second, torch::tensor({1.25f, -3.5f})));
    CHECK(f.tensors[2].first == "z");
    CHECK(f.tensors[2].second.sizes() == c10::IntArrayRef{2, 0});
  }
  SECTION("zero-size tensor with the largest dimension LibTorch allows") {
    const auto path = tmp.file("zero.safetensors");
    write_bytes(path, st_file(R"({"z":{"dtype":"F64","shape":[0,9223372036854775807],"data_offsets":[0,0]}})", ""));
    const auto f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 1);
    CHECK(f.tensors[0].second.sizes() == c10::IntArrayRef{0, INT64_MAX});
  }
}

TEST_CASE("safetensors: malformed files give a bert::Error naming the file and the problem",
          "[io][safetensors]") {
  TempDir tmp;
  struct Bad {
    const char* name;
    std::string bytes;
    std::string phrase;
  };
  const std::string x8 = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string d8(8, '\0');
  auto one = [](const std::string& entry) { return "{\"x\":" + entry + "}"; };
  const std::vector<Bad> cases = {
      {"empty", "", "file is 0 bytes, too short for the 8-byte header length"},
      {"short", "abc", "file is 3 bytes, too short for the 8-byte header length"},
      {"header_too_long", le64(1000) + "{}", "header length 1000 exceeds the 2 bytes that follow"},
      {"header_len_huge", le64(UINT64_MAX) + "{}", "header length 18446744073709551615 exceeds"},
      {"not_json", st_file(R"({"x": {"dtype": )", ""), "header is not valid JSON: parse error at line 1, column 17"},
      {"trailing_garbage", st_file("{} x", ""), "header is not valid JSON"},
      {"bad_utf8", st_file("{\"\xff\":1}", ""), "header is not valid JSON"},
      {"not_object", st_file("[1, 2]", ""), "header is not a JSON object, found array"},
      {"duplicate_key", st_file("{" + x8 + "," + x8 + "}", d8), "header repeats the key 'x'"},
      {"entry_not_object", st_file(R"({"x":[1]})", ""), "tensor 'x' must be a JSON object, found array"},
      {"missing_dtype", st_file(one(R"({"shape":[2],"data_offsets":[0,8]})"), d8), "tensor 'x' is missing \"dtype\""},
      {"missing_shape", st_file(one(R"({"dtype":"F32","data_offsets":[0,8]})"), d8), "tensor 'x' is missing \"shape\""},
      {"missing_offsets", st_file(one(R"({"dtype":"F32","shape":[2]})"), d8),
       "tensor 'x' is missing \"data_offsets\""},
      {"dtype_not_string", st_file(one(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), d8),
       "tensor 'x' \"dtype\" must be a string, found integer 4"},
      {"shape_not_array", st_file(one(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"), d8),
       "tensor 'x' \"shape\" must be an array, found string"},
      {"shape_float", st_file(one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), d8),
       "tensor 'x' shape[0] must be a non-negative 64-bit integer, found number 2.0"},
      {"shape_2_64", st_file(one(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]})"), d8),
       "tensor 'x' shape[0] must be a non-negative 64-bit integer"},
      {"offsets_not_array", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":{"a":0}})"), d8),
       "tensor 'x' \"data_offsets\" must be an array of 2 integers"},
      {"offsets_one", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[8]})"), d8),
       "tensor 'x' \"data_offsets\" must be an array of 2 integers, found [8]"},
      {"offsets_string", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,"8"]})"), d8),
       "tensor 'x' data_offsets[1] must be a non-negative 64-bit integer, found string"},
      {"offsets_negative", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), d8),
       "tensor 'x' data_offsets[0] is negative (-8)"},
      {"unknown_dtype", st_file(one(R"({"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]})"), std::string(2, '\0')),
       "tensor 'x' has unknown dtype 'F8_E4M3' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)"},
      {"shape_negative", st_file(one(R"({"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]})"), d8),
       "tensor 'x' shape[1] is negative (-3)"},
      {"shape_overflow",
       st_file(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]})"), ""),
       "tensor 'x' shape [4294967296,4294967296] overflows"},
      {"shape_overflow_int64", st_file(one(R"({"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]})"), ""),
       "overflows"},
      // Found by fuzz_safetensors: zero bytes, but LibTorch's strides overflow (it threw c10::Error).
      {"zero_size_stride_overflow",
       st_file(one(R"({"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]})"), ""),
       "tensor 'x' shape [0,4611686018427387904,4611686018427387904] overflows: the product of its non-zero "
       "dimensions does not fit in 64 bits"},
      {"beyond_data", st_file(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), d8),
       "tensor 'x' data_offsets [0, 16] extend beyond the data section (8 bytes)"},
      {"begin_after_end", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), d8),
       "tensor 'x' data_offsets [8, 0] have begin > end"},
      {"size_mismatch",
       st_file(R"({"x.weight":{"dtype":"F32","shape":[10,20],"data_offsets":[0,400]}})", std::string(400, '\0')),
       "tensor 'x.weight' data_offsets [0, 400] do not match dtype F32 and shape [10, 20] (800 bytes)"},
      {"scalar_mismatch", st_file(one(R"({"dtype":"I64","shape":[],"data_offsets":[0,4]})"), std::string(4, '\0')),
       "do not match dtype I64 and shape [] (8 bytes)"},
      {"overlap",
       st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
               std::string(12, '\0')),
       "tensors 'a' data_offsets [0, 8] and 'b' data_offsets [4, 12] overlap"},
      {"same_offsets",
       st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
               d8),
       "overlap"},
      {"empty_inside_other",
       st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
               d8),
       "tensors 'a' data_offsets [0, 8] and 'z' data_offsets [4, 4] overlap"},
      {"hole",
       st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
               std::string(20, '\0')),
       "data bytes [8, 12] belong to no tensor (a hole before tensor 'b')"},
      {"not_from_zero", st_file(one(R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})"), std::string(12, '\0')),
       "data bytes [0, 4] belong to no tensor"},
      {"trailing_data", st_file("{" + x8 + "}", std::string(12, '\0')),
       "data section is 12 bytes but the tensors cover only 8 (trailing bytes belong to no tensor)"},
      {"data_without_tensors", st_file("{}", "abcd"), "data section is 4 bytes but the tensors cover only 0"},
      {"metadata_not_object", st_file(R"({"__metadata__":"pt"})", ""),
       "\"__metadata__\" must be a JSON object of strings, found string"},
      {"metadata_value_not_string", st_file(R"({"__metadata__":{"format":"pt","n":1}})", ""),
       "\"__metadata__\" value of 'n' must be a string, found integer 1"},
      {"metadata_nested", st_file(R"({"__metadata__":{"a":{"b":"c"}}})", ""),
       "\"__metadata__\" value of 'a' must be a string, found object"},
      {"bool_not_0_1", st_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x01\x02\x00", 3)),
       "BOOL tensor 'm' holds byte value 2 (must be 0 or 1)"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto path = tmp.file(std::string(c.name) + ".safetensors");
      write_bytes(path, c.bytes);
      require_read_error(path, c.phrase);
    }
  }
  SECTION("missing file") {
    const auto path = tmp.file("nope.safetensors");
    require_read_error(path, "cannot open: No such file or directory");
  }
  SECTION("directory") { require_read_error(tmp.dir.string(), "not a regular file"); }
}

TEST_CASE("safetensors: bad arguments to write give a bert::Error and leave no file", "[io][safetensors]") {
  TempDir tmp;
  const auto path = tmp.file("bad.safetensors");
  auto good = torch::zeros({2});
  SECTION("reserved name") {
    require_error([&] { write_safetensors(path, {{"__metadata__", good}}); }, path, "the name is reserved");
  }
  SECTION("duplicate name") {
    require_error([&] { write_safetensors(path, {{"w", good}, {"v", good}, {"w", good}}); }, path,
                  "cannot write tensor 'w': the name appears twice");
  }
  SECTION("undefined tensor") {
    require_error([&] { write_safetensors(path, {{"u", torch::Tensor()}}); }, path, "tensor 'u': tensor is undefined");
  }
  SECTION("unsupported dtype") {
    require_error([&] { write_safetensors(path, {{"c", torch::zeros({2}, torch::kComplexFloat)}}); }, path,
                  "cannot write tensor 'c': dtype ComplexFloat is not supported");
  }
  SECTION("sparse tensor") {
    require_error([&] { write_safetensors(path, {{"s", good.to_sparse()}}); }, path, "only dense (strided) tensors");
  }
  SECTION("name not UTF-8") {
    require_error([&] { write_safetensors(path, {{"\xff", good}}); }, path, "cannot encode the header: invalid UTF-8 byte");
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("safetensors: write failures name the path and errno, and keep the previous file", "[io][safetensors]") {
  TempDir tmp;
  SECTION("directory does not exist") {
    const auto path = tmp.file("missing_dir/x.safetensors");
    require_error([&] { write_safetensors(path, {{"a", torch::zeros({2})}}); }, path,
                  "x.safetensors.tmp: No such file or directory");
  }
  SECTION("rename onto a non-empty directory fails; the tmp file is removed") {
    const auto path = tmp.file("dir.safetensors");
    fs::create_directories(fs::path(path) / "child");
    require_error([&] { write_safetensors(path, {{"a", torch::zeros({2})}}); }, path, "cannot rename");
    CHECK(fs::is_directory(path));
    CHECK_FALSE(fs::exists(path + ".tmp"));
  }
  SECTION("disk full (file size limit): error, tmp removed, previous file intact") {
    const auto path = tmp.file("full.safetensors");
    write_safetensors(path, {{"old", torch::arange(10, torch::kLong)}}, {{"format", "pt"}});
    const std::string before = read_bytes(path);
    const auto big = torch::ones({1 << 20});  // 4 MiB, over the 64 KiB limit below
    bool threw = false;
    std::string msg;
    {
      FileSizeLimit limit(64 * 1024);
      try {
        write_safetensors(path, {{"new", big}});
      } catch (const bert::Error& e) {
        threw = true;
        msg = e.what();
      }
    }
    INFO(msg);
    REQUIRE(threw);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(std::strerror(EFBIG)) != std::string::npos);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK(read_bytes(path) == before);
    const auto f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 1);
    CHECK(f.tensors[0].first == "old");
  }
  SECTION("overwriting an existing larger file replaces it completely") {
    const auto path = tmp.file("over.safetensors");
    write_safetensors(path, {{"big", torch::ones({1000})}});
    write_safetensors(path, {{"small", torch::ones({2})}});
    const auto f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 1);
    CHECK(f.tensors[0].first == "small");
    CHECK(fs::file_size(path) < 100);
  }
}

TEST_CASE("safetensors: reads the Hugging Face tiny BERT fixture", "[io][safetensors]") {
  const std::string path = BERT_TEST_DATA_DIR "/hf-tiny/model.safetensors";
  const auto f = read_safetensors(path);
  CHECK(f.tensors.size() == 46);
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  bool found = false;
  for (const auto& [name, t] : f.tensors) {
    INFO(name);
    CHECK(t.scalar_type() == torch::kFloat);
    CHECK(t.isfinite().all().item<bool>());
    if (name == "bert.embeddings.word_embeddings.weight") {
      found = true;
      CHECK(t.sizes() == c10::IntArrayRef{30522, 32});
    }
  }
  CHECK(found);

  // Our writer reproduces it tensor for tensor.
  TempDir tmp;
  const auto copy = tmp.file("copy.safetensors");
  write_safetensors(copy, f.tensors, f.metadata);
  const auto g = read_safetensors(copy);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    CHECK(g.tensors[i].first == f.tensors[i].first);
    CHECK(bit_identical(g.tensors[i].second, f.tensors[i].second));
  }
  CHECK(fs::file_size(copy) == fs::file_size(path));
}
