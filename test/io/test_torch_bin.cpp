// Tests of bert/io/torch_bin (our own reader of torch.save state dicts, needed because
// LibTorch's unpickler turns collections.OrderedDict into None):
//   - the Hugging Face fixture's pytorch_model.bin equals its model.safetensors bit for bit,
//     tied weights included;
//   - fixtures written by the current torch (scripts/make_torch_bin_fixtures.py): every dtype,
//     views sharing a storage, offsets, a scalar, an empty tensor, a Parameter, protocol 4;
//   - damaged and unsupported files, both the committed ones and pickles built by hand here into
//     archives written with LibTorch's PyTorchStreamWriter: each must be a bert::Error naming the
//     file and the problem;
//   - a sweep over every truncation and many single-byte corruptions of a real data.pkl: a
//     bert::Error or a successful read, never another exception or a crash.
#include "bert/io/torch_bin.h"

#include "bert/io/safetensors.h"
#include "bert/util/error.h"

#include <caffe2/serialize/inline_container.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using bert::io::read_torch_bin;
using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;

namespace {

std::string data_file(const std::string& relative) { return std::string(BERT_TEST_DATA_DIR) + "/" + relative; }

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  fs::path dir;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bert_tb_test_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

// Same dtype, same shape, same bytes (so NaN payloads and -0.0 count too).
void require_same_bits(const std::string& name, const torch::Tensor& got, const torch::Tensor& want) {
  INFO("tensor " << name);
  REQUIRE(got.defined());
  REQUIRE(got.scalar_type() == want.scalar_type());
  REQUIRE(got.sizes() == want.sizes());
  const torch::Tensor g = got.contiguous(), w = want.contiguous();
  if (g.nbytes() > 0) REQUIRE(std::memcmp(g.data_ptr(), w.data_ptr(), static_cast<size_t>(g.nbytes())) == 0);
}

// A contiguous CPU tensor whose storage holds exactly its own elements (not a view into a
// larger buffer shared with something else).
void require_owning(const std::string& name, const torch::Tensor& t) {
  INFO("tensor " << name);
  REQUIRE(t.device().is_cpu());
  REQUIRE(t.is_contiguous());
  REQUIRE(t.storage_offset() == 0);
  REQUIRE(t.storage().nbytes() == static_cast<size_t>(t.numel()) * t.element_size());
}

std::map<std::string, torch::Tensor> as_map(const TensorList& list) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [k, v] : list) m[k] = v;
  return m;
}

// Expects read_torch_bin(path) to throw a bert::Error "<path>: ..." containing `phrase`.
void require_read_error(const std::string& path, const std::string& phrase) {
  INFO("expecting an error naming " << path << " containing: " << phrase);
  try {
    read_torch_bin(path);
    FAIL("no exception");
  } catch (const bert::Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.rfind(path + ": ", 0) == 0);
    CHECK(msg.find(phrase) != std::string::npos);
  }
}

// Writes a torch.save-style archive (LibTorch's writer adds the version record) holding
// `pickle` as data.pkl and `records` (name relative to the archive folder → bytes).
void write_archive(const std::string& path, const std::string& pickle,
                   const std::map<std::string, std::string>& records = {}) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
  writer.writeEndOfFile();
}

// Builds pickles opcode by opcode.
struct Pickle {
  std::string b;
  Pickle& op(uint8_t c) {
    b += static_cast<char>(c);
    return *this;
  }
  Pickle& raw(const std::string& s) {
    b += s;
    return *this;
  }
  Pickle& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b += static_cast<char>(v >> (8 * i));
    return *this;
  }
  Pickle& str(const std::string& s) { return op('X').u32(static_cast<uint32_t>(s.size())).raw(s); }
  Pickle& global(const std::string& module, const std::string& name) { return op('c').raw(module + "\n" + name + "\n"); }
  Pickle& integer(int32_t v) { return op('J').u32(static_cast<uint32_t>(v)); }
  Pickle& long1(int64_t v) {  // as Python writes ints beyond 32 bits: LONG1 with 8 bytes
    op(0x8a).op(8);
    for (int i = 0; i < 8; ++i) b += static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
    return *this;
  }
  Pickle& ints(const std::vector<int32_t>& values) {  // a tuple of ints
    op('(');
    for (int32_t v : values) integer(v);
    return op('t');
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, sizes, strides, False, {})
  Pickle& tensor(const std::string& storage_type, const std::string& key, int32_t numel, int32_t offset,
                 const std::vector<int32_t>& sizes, const std::vector<int32_t>& strides) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel).op('t').op('Q');
    integer(offset).ints(sizes).ints(strides).op(0x89).op('}');
    return op('t').op('R');
  }
  Pickle& begin_dict() { return op(0x80).op(2).op('}').op('('); }
  Pickle& end_dict() { return op('u').op('.'); }
};

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

}  // namespace

TEST_CASE("torch_bin: HF pytorch_model.bin equals model.safetensors bit for bit", "[io][torch_bin]") {
  const TensorList bin = read_torch_bin(data_file("hf-tiny/pytorch_model.bin"));
  const auto st = as_map(bert::io::read_safetensors(data_file("hf-tiny/model.safetensors")).tensors);
  REQUIRE(bin.size() == 48);
  // File order (that of the pickle), not sorted.
  CHECK(bin[0].first == "bert.embeddings.word_embeddings.weight");
  CHECK(bin[1].first == "bert.embeddings.position_embeddings.weight");
  CHECK(bin[2].first == "bert.embeddings.token_type_embeddings.weight");

  // The tied decoder keys are stored only in the .bin; they share storage with their partners.
  const std::map<std::string, std::string> tied = {
      {"cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"},
      {"cls.predictions.decoder.bias", "cls.predictions.bias"}};
  size_t compared = 0;
  for (const auto& [key, tensor] : bin) {
    require_owning(key, tensor);
    auto it = tied.find(key);
    const std::string want_key = it != tied.end() ? it->second : key;
    REQUIRE(st.count(want_key) == 1);
    require_same_bits(key, tensor, st.at(want_key));
    ++compared;
  }
  CHECK(compared == 48);
  const auto m = as_map(bin);
  REQUIRE(m.count("cls.predictions.decoder.weight") == 1);
  // Both tied keys load, and as separate copies.
  CHECK(m.at("cls.predictions.decoder.weight").data_ptr() != m.at("bert.embeddings.word_embeddings.weight").data_ptr());
  CHECK(m.at("cls.predictions.decoder.weight").sizes() == torch::IntArrayRef({30522, 32}));
}

TEST_CASE("torch_bin: fixtures from the current torch: dtypes, views, scalar, empty, protocol 4",
          "[io][torch_bin]") {
  const auto want = as_map(bert::io::read_safetensors(data_file("torch_bin/dtypes.safetensors")).tensors);

  SECTION("dtypes.pt (protocol 2, OrderedDict with _metadata)") {
    const TensorList got = read_torch_bin(data_file("torch_bin/dtypes.pt"));
    const std::vector<std::string> order = {"f32",   "f64",        "f16",    "bf16",         "i64",
                                            "i32",   "i16",        "i8",     "u8",           "bool",
                                            "base",  "transposed", "sliced", "position_ids", "scalar",
                                            "empty", "param",      "shared_a", "shared_b"};
    REQUIRE(got.size() == order.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].first == order[i]);
      REQUIRE(want.count(got[i].first) == 1);
      require_owning(got[i].first, got[i].second);
      require_same_bits(got[i].first, got[i].second, want.at(got[i].first));
    }
    const auto m = as_map(got);
    CHECK(m.at("f16").scalar_type() == torch::kHalf);
    CHECK(m.at("bf16").scalar_type() == torch::kBFloat16);
    CHECK(m.at("i64").scalar_type() == torch::kLong);
    CHECK(m.at("bool").scalar_type() == torch::kBool);
    CHECK(m.at("scalar").dim() == 0);
    CHECK(m.at("scalar").item<float>() == 3.25f);
    CHECK(m.at("empty").sizes() == torch::IntArrayRef({0, 3}));
    CHECK(m.at("transposed").sizes() == torch::IntArrayRef({5, 4}));
    CHECK(m.at("transposed")[0][1].item<float>() == 5.0f);  // base[1][0]
    CHECK(m.at("sliced")[0][0].item<float>() == 7.0f);      // storage offset 7
    CHECK(m.at("position_ids").sizes() == torch::IntArrayRef({1, 7}));
    // Views of one storage come back as separate memory.
    CHECK(m.at("base").data_ptr() != m.at("transposed").data_ptr());
    CHECK(m.at("shared_a").data_ptr() != m.at("shared_b").data_ptr());
  }

  SECTION("dtypes_p4.pt (protocol 4: FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL)") {
    const TensorList got = read_torch_bin(data_file("torch_bin/dtypes_p4.pt"));
    const std::vector<std::string> order = {"bf16", "sliced", "scalar", "param", "shared_a", "shared_b"};
    REQUIRE(got.size() == order.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].first == order[i]);
      require_owning(got[i].first, got[i].second);
      require_same_bits(got[i].first, got[i].second, want.at(got[i].first));
    }
  }
}

TEST_CASE("torch_bin: bad files give a bert::Error naming the file", "[io][torch_bin]") {
  SECTION("truncated zip") { require_read_error(data_file("torch_bin/truncated.pt"), "damaged or unreadable"); }
  SECTION("data.pkl is text") { require_read_error(data_file("torch_bin/garbage_pkl.pt"), "data.pkl: TUPLE without a MARK"); }
  SECTION("data.pkl truncated") { require_read_error(data_file("torch_bin/truncated_pkl.pt"), "data.pkl: truncated"); }
  SECTION("top level is a list") {
    require_read_error(data_file("torch_bin/list_top.pt"), "data.pkl holds a list, not a state dict");
  }
  SECTION("legacy format") {
    require_read_error(data_file("torch_bin/legacy.pt"), "legacy (pre-1.6) torch.save format, which is not supported");
  }
  SECTION("missing file") { require_read_error(data_file("torch_bin/no_such_file.pt"), "cannot open"); }
  SECTION("not a zip") { require_read_error(data_file("torch_bin/README.md"), "not a zip archive"); }
  SECTION("directory") { require_read_error(data_file("torch_bin"), "is a directory"); }
}

TEST_CASE("torch_bin: hand-made archives: accepted layouts and every validation rule", "[io][torch_bin]") {
  TempDir tmp;
  const std::string path = tmp.file("model.bin");
  const std::map<std::string, std::string> one_storage = {{"data/0", floats({1, 2, 3, 4})}};

  SECTION("baseline: a plain dict with one tensor") {
    write_archive(path, Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}).end_dict().b,
                  one_storage);
    const TensorList got = read_torch_bin(path);
    REQUIRE(got.size() == 1);
    CHECK(got[0].first == "w");
    require_same_bits("w", got[0].second, torch::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2}));
  }
  SECTION("a storage saved from a GPU loads to the CPU; LONG1 integers") {
    Pickle p;
    p.begin_dict().str("g").global("torch._utils", "_rebuild_tensor_v2").op('(');
    p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cuda:0").long1(4).op('t').op('Q');
    p.long1(1).op('(').long1(3).op('t').op('(').long1(1).op('t').op(0x88).op('N').op('t').op('R');
    write_archive(path, p.end_dict().b, one_storage);
    const TensorList got = read_torch_bin(path);
    REQUIRE(got.size() == 1);
    require_owning("g", got[0].second);
    require_same_bits("g", got[0].second, torch::tensor({2.f, 3.f, 4.f}));
  }
  SECTION("empty state dict") {
    write_archive(path, Pickle().begin_dict().end_dict().b);
    CHECK(read_torch_bin(path).empty());
  }
  SECTION("a storage used only by an empty tensor may be empty") {
    write_archive(path, Pickle().begin_dict().str("e").tensor("FloatStorage", "0", 0, 0, {0, 5}, {5, 1}).end_dict().b,
                  {{"data/0", ""}});
    const TensorList got = read_torch_bin(path);
    REQUIRE(got.size() == 1);
    CHECK(got[0].second.sizes() == torch::IntArrayRef({0, 5}));
  }

  struct Case {
    const char* name;
    std::string pickle;
    std::map<std::string, std::string> records;
    const char* phrase;
  };
  const auto tensor_w = [](Pickle p) { return p.str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {2, 1}); };
  std::string deep;  // 200000 nested lists: no recursion anywhere, so no stack overflow
  {
    Pickle p;
    p.op(0x80).op(2);
    for (int i = 0; i < 200000; ++i) p.op(']');
    for (int i = 1; i < 200000; ++i) p.op('a');
    deep = p.op('.').b;
  }
  const std::vector<Case> cases = {
      {"unsupported global", Pickle().op(0x80).op(2).global("os", "system").op('.').b, {}, "unsupported global 'os.system'"},
      {"storage type outside torch", Pickle().begin_dict().str("w").tensor("ComplexFloatStorage", "0", 4, 0, {4}, {1}).end_dict().b,
       one_storage, "unsupported global 'torch.ComplexFloatStorage'"},
      {"known but unsupported opcode", Pickle().op(0x80).op(2).op(0x81).b, {}, "unsupported pickle opcode NEWOBJ (0x81)"},
      {"unknown opcode", Pickle().op(0x80).op(2).op(0xff).b, {}, "unknown pickle opcode 0xff"},
      {"protocol 6", Pickle().op(0x80).op(6).b, {}, "unsupported pickle protocol 6"},
      {"empty pickle", "", {}, "truncated"},
      {"no STOP", Pickle().op(0x80).op(2).op('}').b, {}, "ends before its STOP"},
      {"bytes after STOP", Pickle().op(0x80).op(2).op('}').op('.').op('N').b, {}, "1 bytes after STOP"},
      {"extra values at STOP", Pickle().op(0x80).op(2).op('N').op('}').op('.').b, {}, "extra values"},
      {"string longer than the pickle", Pickle().op(0x80).op(2).op('X').u32(0xffffffffu).raw("ab").b, {}, "truncated: BINUNICODE"},
      {"BINUNICODE8 length near 2^64", Pickle().op(0x80).op(4).op(0x8d).raw(std::string(8, '\xff')).b, {}, "truncated: BINUNICODE8"},
      {"FRAME past the end", Pickle().op(0x80).op(4).op(0x95).raw(std::string(8, '\x7f')).b, {}, "FRAME of"},
      {"GLOBAL without newline", Pickle().op(0x80).op(2).op('c').raw("collections").b, {}, "no terminating newline"},
      {"LONG1 wider than 64 bits", Pickle().op(0x80).op(2).op(0x8a).op(9).raw(std::string(9, '\1')).b, {}, "does not fit 64 bits"},
      {"BINGET of an unstored memo entry", Pickle().op(0x80).op(2).op('h').op(7).op('.').b, {}, "memo entry 7, never stored"},
      {"pop on empty stack", Pickle().op(0x80).op(2).op('s').b, {}, "SETITEM on an empty stack"},
      {"pop across a MARK", Pickle().op(0x80).op(2).op('N').op('(').op(0x85).b, {}, "across a MARK"},
      {"SETITEMS without MARK", Pickle().op(0x80).op(2).op('}').op('u').b, {}, "SETITEMS without a MARK"},
      {"SETITEMS odd", Pickle().op(0x80).op(2).op('}').op('(').op('N').op('u').b, {}, "odd number"},
      {"SETITEM on a list", Pickle().op(0x80).op(2).op(']').op('N').op('N').op('s').b, {}, "SETITEM on a list"},
      {"APPEND on a tuple", Pickle().op(0x80).op(2).op(')').op('N').op('a').b, {}, "APPEND on a tuple"},
      {"BUILD on a list", Pickle().op(0x80).op(2).op(']').op('}').op('b').b, {}, "BUILD on a list"},
      {"REDUCE of a non-global", Pickle().op(0x80).op(2).op('N').op(')').op('R').b, {}, "REDUCE calls None"},
      {"storage type called", Pickle().op(0x80).op(2).global("torch", "FloatStorage").op(')').op('R').b, {},
       "torch.FloatStorage called as a function"},
      {"OrderedDict with arguments", Pickle().op(0x80).op(2).global("collections", "OrderedDict").op('N').op(0x85).op('R').b, {},
       "OrderedDict called with arguments"},
      {"persistent id not a storage", Pickle().op(0x80).op(2).str("x").op('Q').b, {}, "persistent id is a string"},
      {"deeply nested lists", deep, {}, "data.pkl holds a list"},
      {"self-referencing list", Pickle().op(0x80).op(2).op(']').op('q').op(0).op('h').op(0).op('a').op('.').b, {},
       "data.pkl holds a list"},
      {"top level None", Pickle().op(0x80).op(2).op('N').op('.').b, {}, "data.pkl holds None, not a state dict"},
      {"non-string key", Pickle().begin_dict().integer(1).tensor("FloatStorage", "0", 4, 0, {4}, {1}).end_dict().b, one_storage,
       "has an int as a key"},
      {"non-tensor value", Pickle().begin_dict().str("w").integer(1).end_dict().b, {}, "entry 'w' is an int, not a tensor"},
      {"repeated key", tensor_w(tensor_w(Pickle().begin_dict())).end_dict().b, one_storage, "repeats the key 'w'"},
      {"missing storage record", Pickle().begin_dict().str("w").tensor("FloatStorage", "7", 4, 0, {4}, {1}).end_dict().b, one_storage,
       "storage '7' has no record data/7"},
      {"record size disagrees", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 5, 0, {5}, {1}).end_dict().b, one_storage,
       "record data/0 holds 16 bytes, but data.pkl describes 5 elements of 4 bytes"},
      {"negative storage size", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", -1, 0, {4}, {1}).end_dict().b, one_storage,
       "storage size -1 is negative"},
      {"same key, two sizes",
       Pickle().begin_dict().str("a").tensor("FloatStorage", "0", 4, 0, {4}, {1}).str("b").tensor("FloatStorage", "0", 2, 0, {2}, {1}).end_dict().b,
       one_storage, "appears twice with different types or sizes"},
      {"view past the storage", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 1, {2, 2}, {2, 1}).end_dict().b, one_storage,
       "reaches element 4 of storage '0', which has 4 elements"},
      {"stride past the storage", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {3, 1}).end_dict().b, one_storage,
       "reaches element 4"},
      {"huge view overflows", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {0x7fffffff, 0x7fffffff}).end_dict().b,
       one_storage, "reaches element"},
      {"negative offset", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, -1, {4}, {1}).end_dict().b, one_storage,
       "storage offset -1 is negative"},
      {"negative stride", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {4}, {-1}).end_dict().b, one_storage,
       "tensor stride holds the negative value -1"},
      {"sizes and strides differ", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {4}, {1, 1}).end_dict().b, one_storage,
       "1 sizes but 2 strides"},
      {"expanded (self-overlapping) view", Pickle().begin_dict().str("w").tensor("FloatStorage", "0", 4, 0, {8}, {0}).end_dict().b,
       one_storage, "overlaps itself"},
      {"bool byte other than 0/1", Pickle().begin_dict().str("b").tensor("BoolStorage", "0", 2, 0, {2}, {1}).end_dict().b,
       {{"data/0", std::string("\x01\x02", 2)}}, "bool byte other than 0 or 1"},
      {"big-endian file", Pickle().begin_dict().end_dict().b, {{"byteorder", "big"}}, "only little-endian"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      write_archive(path, c.pickle, c.records);
      require_read_error(path, c.phrase);
    }
  }

  SECTION("zip without data.pkl") {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data/0", "abcd", 4);
    writer.writeEndOfFile();
    require_read_error(path, "without data.pkl");
  }
}

TEST_CASE("torch_bin: every truncation and many byte corruptions of a real data.pkl are clean errors",
          "[io][torch_bin]") {
  // Take data.pkl and the storages of the dtypes fixture apart, then rewrite the archive with a
  // damaged data.pkl.
  std::string pickle;
  std::map<std::string, std::string> records;
  {
    caffe2::serialize::PyTorchStreamReader reader(data_file("torch_bin/dtypes.pt"));
    for (const std::string& name : reader.getAllRecords()) {
      if (name != "data.pkl" && name.rfind("data/", 0) != 0 && name != "byteorder") continue;  // writer adds the rest
      const size_t size = reader.getRecordSize(name);
      std::string bytes(size, '\0');
      if (size > 0) reader.getRecord(name, bytes.data(), size);
      (name == "data.pkl" ? pickle : records[name]) = bytes;
    }
  }
  REQUIRE(pickle.size() > 1000);
  REQUIRE(records.size() > 10);

  TempDir tmp;
  const std::string path = tmp.file("fuzz.bin");
  write_archive(path, pickle, records);
  REQUIRE(read_torch_bin(path).size() == 19);  // the undamaged rewrite reads

  size_t failures = 0, successes = 0, other = 0;
  const auto attempt = [&](const std::string& damaged, bool must_fail) {
    write_archive(path, damaged, records);
    try {
      read_torch_bin(path);
      ++successes;
      if (must_fail) ++other;
    } catch (const bert::Error& e) {
      ++failures;
      if (std::string(e.what()).rfind(path + ": ", 0) != 0) ++other;
    } catch (...) {
      ++other;
    }
  };
  for (size_t n = 0; n < pickle.size(); ++n) attempt(pickle.substr(0, n), true);
  CHECK(other == 0);
  CHECK(successes == 0);
  for (size_t i = 0; i < pickle.size(); ++i) {
    for (uint8_t v : {uint8_t(0x00), uint8_t(0xff), uint8_t(static_cast<uint8_t>(pickle[i]) ^ 0x01)}) {
      if (static_cast<uint8_t>(pickle[i]) == v) continue;
      std::string damaged = pickle;
      damaged[i] = static_cast<char>(v);
      attempt(damaged, false);
    }
  }
  INFO("errors " << failures << ", successful reads " << successes);
  CHECK(other == 0);
  CHECK(failures > pickle.size());
}
