// Reader for `torch.save(state_dict)` files (the torch >= 1.6 zip format, Hugging Face's
// `pytorch_model.bin`) without Python.
//
// Why this exists: LibTorch's own unpickler (torch::pickle_load, torch::jit::Unpickler) maps the
// global `collections.OrderedDict` to None on purpose (TorchScript has no OrderedDict), and every
// state dict is an OrderedDict, so it fails with "Expected GenericDict but got None". We therefore
// unpickle `data.pkl` ourselves and use LibTorch only for the zip container
// (caffe2::serialize::PyTorchStreamReader), which it reads well.
//
// Layout of a torch.save archive (the top-level folder is the file's stem, or "archive"; the
// stream reader strips it, so we ask for "data.pkl" and "data/<key>"):
//   <folder>/data.pkl        the pickle: an OrderedDict name -> tensor
//   <folder>/data/<key>      raw little-endian bytes of one storage (stored, not compressed)
//   <folder>/byteorder       "little" (absent in files older than torch 1.13: little then too)
//   <folder>/version, .data/serialization_id, ...   bookkeeping, checked by the stream reader
// In the pickle a tensor is `torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata])`, and `storage` comes from a persistent id
// `('storage', torch.FloatStorage, '<key>', 'cpu', numel)` (BINPERSID). Several tensors may name
// the same key: tied weights, views, the same tensor saved under two names.
//
// The unpickler is a plain stack machine over a byte buffer. It is written for hostile input (it
// is meant to be fuzzed): every read is checked against the bytes left, nothing recurses, all
// pickle objects live in flat arenas addressed by index (so reference cycles built through the
// memo and deeply nested containers cost neither stack depth nor leaks), no allocation is sized
// by a number from the file before that number is checked against what the file can hold, and
// every problem is a bert::Error "<path>: ..." naming the opcode, global or record.
#include "bert/io/torch_bin.h"

#include "bert/util/error.h"

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

// Storage records hold little-endian bytes; we hand them to tensors as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "torch_bin.cpp assumes a little-endian host");

namespace bert::io {

namespace {

// data.pkl of a state dict is ~200 bytes per tensor, so 64 MiB is some 300,000 tensors. The cap
// matters because unpickling can take ~50 bytes of memory per pickle byte (a value, a memo
// entry or an empty container per opcode), and a forged record size must not become a huge
// allocation.
constexpr uint64_t kMaxPickleBytes = uint64_t(64) << 20;
// Deflate cannot expand data by more than ~1032:1, so a record claiming more uncompressed bytes
// than this times the file size is a forged size (torch.save itself never compresses).
constexpr uint64_t kMaxExpansion = 1100;
// Far beyond any real tensor; only bounds the work a forged size tuple can ask for.
constexpr size_t kMaxDims = 64;

// ---------------------------------------------------------------------------------------------
// Pickle values

enum class Kind : uint8_t { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor };

// The only globals a state dict needs. Everything else (os.system, torch.jit internals, tensor
// subclasses) is refused when the GLOBAL opcode names it.
enum class Callable : int64_t { OrderedDict, RebuildTensorV2, RebuildParameter, StorageType };

struct Value {
  Kind kind = Kind::None;
  // Bool/Int: the value. Str/Tuple/List/Dict/Storage/Tensor: index into the Unpickler's arena.
  // Global: the Callable.
  int64_t num = 0;
  // Global of Callable::StorageType: the at::ScalarType of the storage.
  int64_t aux = 0;
  double real = 0;  // Float
};

struct StorageType {
  const char* name;  // in module `torch`
  at::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
};

std::string storage_type_name(int64_t dtype) {
  for (const auto& st : kStorageTypes)
    if (static_cast<int64_t>(st.dtype) == dtype) return std::string("torch.") + st.name;
  return "torch.?Storage";
}

struct Storage {
  std::string key;
  at::ScalarType dtype;
  int64_t numel;
  torch::Tensor data;  // 1-D, numel elements, owns the bytes of record data/<key>
  int64_t uses = 0;    // how many entries of the final state dict view it
};

struct TensorView {
  size_t storage;
  int64_t offset;
  std::vector<int64_t> sizes, strides;
  int64_t numel;
};

// Names of every pickle opcode (protocols 0-5), for error messages.
const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

std::string hex_byte(uint8_t b) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

// Shortens a string from the file for an error message (and keeps control bytes out of it).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

// ---------------------------------------------------------------------------------------------
// The unpickler

// Loads storage record data/<key> as a 1-D tensor of `numel` elements of `dtype`.
using StorageLoader = std::function<torch::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

class Unpickler {
 public:
  Unpickler(const std::string& path, const std::vector<uint8_t>& bytes, StorageLoader load_storage)
      : path_(path), data_(bytes.data()), size_(bytes.size()), load_storage_(std::move(load_storage)) {}

  // Runs the pickle to STOP and returns the state dict.
  std::vector<std::pair<std::string, torch::Tensor>> read_state_dict() { return to_state_dict(run()); }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(path_ + ": data.pkl: " + problem + " (opcode at byte " + std::to_string(op_pos_) + ")");
  }

  // --- reading the byte stream; every read checks the bytes left first ---
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
           std::to_string(size_ - pos_) + " left");
  }
  uint64_t read_le(size_t n, const char* what) {
    need(n, what);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  std::string read_bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string read_line(const char* what) {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) fail(std::string("truncated: ") + what + " has no terminating newline");
    const size_t n = static_cast<const uint8_t*>(nl) - (data_ + pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n + 1;
    return s;
  }

  // --- the stack; MARK sets a floor that plain pops may not cross (as in CPython) ---
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value pop(const char* op) {
    if (stack_.size() <= floor()) fail(std::string(op) + " on an empty stack (or across a MARK)");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top(const char* op) {
    if (stack_.size() <= floor()) fail(std::string(op) + " on an empty stack (or across a MARK)");
    return stack_.back();
  }
  std::vector<Value> pop_mark(const char* op) {
    if (marks_.empty()) fail(std::string(op) + " without a MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  // --- making values ---
  static Value scalar(Kind kind, int64_t num) {
    Value v;
    v.kind = kind;
    v.num = num;
    return v;
  }
  Value new_str(std::string s) {
    strings_.push_back(std::move(s));
    return scalar(Kind::Str, static_cast<int64_t>(strings_.size() - 1));
  }
  Value new_seq(Kind kind, std::vector<Value> items) {
    seqs_.push_back(std::move(items));
    return scalar(kind, static_cast<int64_t>(seqs_.size() - 1));
  }
  Value new_dict() {
    dicts_.emplace_back();
    return scalar(Kind::Dict, static_cast<int64_t>(dicts_.size() - 1));
  }
  const std::string& str(const Value& v) const { return strings_[static_cast<size_t>(v.num)]; }
  const std::vector<Value>& seq(const Value& v) const { return seqs_[static_cast<size_t>(v.num)]; }

  // "a list", "the global torch.FloatStorage", ... for error messages.
  std::string describe(const Value& v) const {
    switch (v.kind) {
      case Kind::None: return "None";
      case Kind::Bool: return "a bool";
      case Kind::Int: return "an int";
      case Kind::Float: return "a float";
      case Kind::Str: return "a string";
      case Kind::Tuple: return "a tuple";
      case Kind::List: return "a list";
      case Kind::Dict: return "a dict";
      case Kind::Storage: return "a storage";
      case Kind::Tensor: return "a tensor";
      case Kind::Global:
        switch (static_cast<Callable>(v.num)) {
          case Callable::OrderedDict: return "the global collections.OrderedDict";
          case Callable::RebuildTensorV2: return "the global torch._utils._rebuild_tensor_v2";
          case Callable::RebuildParameter: return "the global torch._utils._rebuild_parameter";
          case Callable::StorageType: return "the global " + storage_type_name(v.aux);
        }
    }
    return "an unknown value";
  }

  Value global(const std::string& module, const std::string& name) {
    Value v = scalar(Kind::Global, 0);
    if (module == "collections" && name == "OrderedDict") {
      v.num = static_cast<int64_t>(Callable::OrderedDict);
      return v;
    }
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      v.num = static_cast<int64_t>(Callable::RebuildTensorV2);
      return v;
    }
    if (module == "torch._utils" && name == "_rebuild_parameter") {
      v.num = static_cast<int64_t>(Callable::RebuildParameter);
      return v;
    }
    if (module == "torch") {
      for (const auto& st : kStorageTypes) {
        if (name == st.name) {
          v.num = static_cast<int64_t>(Callable::StorageType);
          v.aux = static_cast<int64_t>(st.dtype);
          return v;
        }
      }
    }
    fail("unsupported global " + quoted(module + "." + name) +
         ": only state dicts of plain tensors (float, half, bfloat16, integer, bool) can be read");
  }

  int64_t int_arg(const Value& v, const char* what) {
    if (v.kind != Kind::Int) fail(std::string(what) + " is " + describe(v) + ", expected an int");
    return v.num;
  }
  std::vector<int64_t> int_tuple(const Value& v, const char* what) {
    if (v.kind != Kind::Tuple) fail(std::string(what) + " is " + describe(v) + ", expected a tuple of ints");
    const auto& items = seq(v);
    if (items.size() > kMaxDims) fail(std::string(what) + " has " + std::to_string(items.size()) + " dimensions");
    std::vector<int64_t> out;
    for (const Value& item : items) {
      const int64_t x = int_arg(item, what);
      if (x < 0) fail(std::string(what) + " holds the negative value " + std::to_string(x));
      out.push_back(x);
    }
    return out;
  }

  // BINPERSID: ('storage', torch.XStorage, key, location, numel). The location ("cpu", "cuda:0")
  // is where the tensor lived when saved; we load everything to the CPU.
  Value persistent_load(const Value& pid) {
    if (pid.kind != Kind::Tuple) fail("persistent id is " + describe(pid) + ", expected a tuple");
    const auto& f = seq(pid);
    if (f.size() != 5 || f[0].kind != Kind::Str || str(f[0]) != "storage")
      fail("persistent id is not ('storage', type, key, location, numel)");
    if (f[1].kind != Kind::Global || static_cast<Callable>(f[1].num) != Callable::StorageType)
      fail("persistent id names " + describe(f[1]) + " as its storage type");
    if (f[2].kind != Kind::Str) fail("storage key is " + describe(f[2]) + ", expected a string");
    if (f[3].kind != Kind::Str) fail("storage location is " + describe(f[3]) + ", expected a string");
    const int64_t numel = int_arg(f[4], "storage size");
    if (numel < 0) fail("storage size " + std::to_string(numel) + " is negative");
    const auto dtype = static_cast<at::ScalarType>(f[1].aux);
    const std::string& key = str(f[2]);

    // Tensors sharing one storage name the same key: load it once.
    auto it = storage_index_.find(key);
    if (it != storage_index_.end()) {
      const Storage& s = storages_[it->second];
      if (s.dtype != dtype || s.numel != numel)
        fail("storage " + quoted(key) + " appears twice with different types or sizes");
      return scalar(Kind::Storage, static_cast<int64_t>(it->second));
    }
    Storage s{key, dtype, numel, load_storage_(key, dtype, numel)};
    storages_.push_back(std::move(s));
    storage_index_.emplace(key, storages_.size() - 1);
    return scalar(Kind::Storage, static_cast<int64_t>(storages_.size() - 1));
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  // [, metadata]). requires_grad, the hooks and the metadata concern autograd only: ignored.
  Value rebuild_tensor(const std::vector<Value>& args) {
    if (args.size() != 6 && args.size() != 7)
      fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(args.size()));
    if (args[0].kind != Kind::Storage) fail("_rebuild_tensor_v2's storage is " + describe(args[0]));
    const Storage& s = storages_[static_cast<size_t>(args[0].num)];
    TensorView t;
    t.storage = static_cast<size_t>(args[0].num);
    t.offset = int_arg(args[1], "storage offset");
    t.sizes = int_tuple(args[2], "tensor size");
    t.strides = int_tuple(args[3], "tensor stride");
    if (args[4].kind != Kind::Bool) fail("requires_grad is " + describe(args[4]) + ", expected a bool");
    if (t.offset < 0) fail("storage offset " + std::to_string(t.offset) + " is negative");
    if (t.sizes.size() != t.strides.size())
      fail("tensor has " + std::to_string(t.sizes.size()) + " sizes but " + std::to_string(t.strides.size()) +
           " strides");

    // numel = prod(sizes); the last element sits at offset + sum((size - 1) * stride). Both are
    // computed with overflow checks and must stay inside the storage.
    int64_t numel = 1;
    for (int64_t n : t.sizes)
      if (__builtin_mul_overflow(numel, n, &numel)) fail("tensor size overflows 64 bits");
    t.numel = numel;
    if (numel > 0) {
      int64_t last = t.offset;
      for (size_t d = 0; d < t.sizes.size(); ++d) {
        int64_t step = 0;
        if (__builtin_mul_overflow(t.sizes[d] - 1, t.strides[d], &step) || __builtin_add_overflow(last, step, &last))
          fail("tensor view overflows 64 bits");
      }
      if (last >= s.numel)
        fail("tensor view (storage offset " + std::to_string(t.offset) + ") reaches element " + std::to_string(last) +
             " of storage " + quoted(s.key) + ", which has " + std::to_string(s.numel) + " elements");
      // Overlapping views (expand()ed tensors) would be materialised as copies larger than
      // anything the file holds; state dicts do not contain them (HF's position_ids buffer is
      // expanded along a size-1 dim only, which does not overlap).
      if (numel > s.numel)
        fail("tensor of " + std::to_string(numel) + " elements overlaps itself in storage " + quoted(s.key) + " of " +
             std::to_string(s.numel) + " elements (an expanded tensor): not supported");
    }
    tensors_.push_back(std::move(t));
    return scalar(Kind::Tensor, static_cast<int64_t>(tensors_.size() - 1));
  }

  Value call(const Value& fn, const Value& args_value) {
    if (fn.kind != Kind::Global) fail("REDUCE calls " + describe(fn) + ", which is not a supported global");
    if (args_value.kind != Kind::Tuple) fail("REDUCE arguments are " + describe(args_value) + ", expected a tuple");
    const std::vector<Value> args = seq(args_value);  // copy: the arenas may grow below
    switch (static_cast<Callable>(fn.num)) {
      case Callable::OrderedDict:
        if (!args.empty()) fail("collections.OrderedDict called with arguments");
        return new_dict();
      case Callable::RebuildTensorV2:
        return rebuild_tensor(args);
      case Callable::RebuildParameter:
        // _rebuild_parameter(data, requires_grad, backward_hooks): the parameter is its data.
        if (args.size() != 3 || args[0].kind != Kind::Tensor)
          fail("_rebuild_parameter takes (tensor, requires_grad, backward_hooks)");
        return args[0];
      case Callable::StorageType:
        break;
    }
    fail(describe(fn) + " called as a function");
  }

  Value run() {
    while (true) {
      op_pos_ = pos_;
      if (pos_ >= size_) fail("truncated: the pickle ends before its STOP opcode");
      const uint8_t op = data_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          const uint64_t proto = read_le(1, "PROTO");
          if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
          break;
        }
        case 0x95: {  // FRAME: only a read-ahead hint; the opcodes inside are read as usual
          const uint64_t n = read_le(8, "FRAME");
          if (n > size_ - pos_) fail("FRAME of " + std::to_string(n) + " bytes runs past the end of the pickle");
          break;
        }
        case '.': {  // STOP
          if (!marks_.empty()) fail("STOP with an open MARK");
          Value result = pop("STOP");
          if (!stack_.empty()) fail("STOP leaves " + std::to_string(stack_.size()) + " extra values on the stack");
          if (pos_ != size_) fail(std::to_string(size_ - pos_) + " bytes after STOP");
          return result;
        }
        case '(':  // MARK
          marks_.push_back(stack_.size());
          break;

        // --- memo ---
        case 'q':  // BINPUT
          memo_[read_le(1, "BINPUT")] = top("BINPUT");
          break;
        case 'r':  // LONG_BINPUT
          memo_[read_le(4, "LONG_BINPUT")] = top("LONG_BINPUT");
          break;
        case 0x94: {  // MEMOIZE
          const uint64_t index = memo_.size();
          memo_[index] = top("MEMOIZE");
          break;
        }
        case 'h':  // BINGET
        case 'j': {  // LONG_BINGET
          const uint64_t index = read_le(op == 'h' ? 1 : 4, opcode_name(op));
          auto it = memo_.find(index);
          if (it == memo_.end()) fail(std::string(opcode_name(op)) + " of memo entry " + std::to_string(index) + ", never stored");
          stack_.push_back(it->second);
          break;
        }

        // --- scalars ---
        case 'N':  // NONE
          stack_.push_back(Value{});
          break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
          stack_.push_back(scalar(Kind::Bool, op == 0x88 ? 1 : 0));
          break;
        case 'K':  // BININT1
          stack_.push_back(scalar(Kind::Int, static_cast<int64_t>(read_le(1, "BININT1"))));
          break;
        case 'M':  // BININT2
          stack_.push_back(scalar(Kind::Int, static_cast<int64_t>(read_le(2, "BININT2"))));
          break;
        case 'J':  // BININT: signed 32-bit
          stack_.push_back(scalar(Kind::Int, static_cast<int32_t>(static_cast<uint32_t>(read_le(4, "BININT")))));
          break;
        case 0x8a: {  // LONG1: n-byte little-endian two's complement
          const uint64_t n = read_le(1, "LONG1");
          if (n > 8) fail("LONG1 integer of " + std::to_string(n) + " bytes does not fit 64 bits");
          uint64_t v = read_le(static_cast<size_t>(n), "LONG1");
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
          stack_.push_back(scalar(Kind::Int, static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT: big-endian IEEE double
          need(8, "BINFLOAT");
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];
          pos_ += 8;
          Value v;
          v.kind = Kind::Float;
          std::memcpy(&v.real, &bits, sizeof bits);
          stack_.push_back(v);
          break;
        }
        case 'X':  // BINUNICODE
          stack_.push_back(new_str(read_bytes(read_le(4, "BINUNICODE"), "BINUNICODE")));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          stack_.push_back(new_str(read_bytes(read_le(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE")));
          break;
        case 0x8d:  // BINUNICODE8
          stack_.push_back(new_str(read_bytes(read_le(8, "BINUNICODE8"), "BINUNICODE8")));
          break;
        case 'T': {  // BINSTRING: signed 32-bit length (Python 2 str)
          const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(read_le(4, "BINSTRING")));
          if (n < 0) fail("BINSTRING of negative length");
          stack_.push_back(new_str(read_bytes(static_cast<uint64_t>(n), "BINSTRING")));
          break;
        }
        case 'U':  // SHORT_BINSTRING
          stack_.push_back(new_str(read_bytes(read_le(1, "SHORT_BINSTRING"), "SHORT_BINSTRING")));
          break;

        // --- containers ---
        case '}':  // EMPTY_DICT
          stack_.push_back(new_dict());
          break;
        case ']':  // EMPTY_LIST
          stack_.push_back(new_seq(Kind::List, {}));
          break;
        case ')':  // EMPTY_TUPLE
          stack_.push_back(new_seq(Kind::Tuple, {}));
          break;
        case 't':  // TUPLE
          stack_.push_back(new_seq(Kind::Tuple, pop_mark("TUPLE")));
          break;
        case 0x85:  // TUPLE1
        case 0x86:  // TUPLE2
        case 0x87: {  // TUPLE3
          std::vector<Value> items(static_cast<size_t>(op - 0x84));
          for (size_t i = items.size(); i-- > 0;) items[i] = pop(opcode_name(op));
          stack_.push_back(new_seq(Kind::Tuple, std::move(items)));
          break;
        }
        case 's': {  // SETITEM
          const Value value = pop("SETITEM");
          const Value key = pop("SETITEM");
          const Value& dict = top("SETITEM");
          if (dict.kind != Kind::Dict) fail("SETITEM on " + describe(dict));
          dicts_[static_cast<size_t>(dict.num)].emplace_back(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          const std::vector<Value> items = pop_mark("SETITEMS");
          const Value& dict = top("SETITEMS");
          if (dict.kind != Kind::Dict) fail("SETITEMS on " + describe(dict));
          if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
          auto& entries = dicts_[static_cast<size_t>(dict.num)];
          for (size_t i = 0; i < items.size(); i += 2) entries.emplace_back(items[i], items[i + 1]);
          break;
        }
        case 'a': {  // APPEND
          const Value value = pop("APPEND");
          const Value& list = top("APPEND");
          if (list.kind != Kind::List) fail("APPEND on " + describe(list));
          seqs_[static_cast<size_t>(list.num)].push_back(value);
          break;
        }
        case 'e': {  // APPENDS
          const std::vector<Value> items = pop_mark("APPENDS");
          const Value& list = top("APPENDS");
          if (list.kind != Kind::List) fail("APPENDS on " + describe(list));
          auto& elements = seqs_[static_cast<size_t>(list.num)];
          elements.insert(elements.end(), items.begin(), items.end());
          break;
        }

        // --- objects ---
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = read_line("GLOBAL module");
          std::string name = read_line("GLOBAL name");
          stack_.push_back(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Value name = pop("STACK_GLOBAL");
          const Value module = pop("STACK_GLOBAL");
          if (module.kind != Kind::Str || name.kind != Kind::Str) fail("STACK_GLOBAL of non-strings");
          stack_.push_back(global(str(module), str(name)));
          break;
        }
        case 'R': {  // REDUCE
          const Value args = pop("REDUCE");
          const Value fn = pop("REDUCE");
          stack_.push_back(call(fn, args));
          break;
        }
        case 'Q':  // BINPERSID
          stack_.push_back(persistent_load(pop("BINPERSID")));
          break;
        case 'b': {  // BUILD
          // torch.save's OrderedDict carries `_metadata` (module versions) as its state: not
          // needed to load weights. Nothing else we build takes a state.
          const Value state = pop("BUILD");
          const Value& target = top("BUILD");
          if (target.kind != Kind::Dict) fail("BUILD on " + describe(target));
          (void)state;
          break;
        }

        default: {
          const char* name = opcode_name(op);
          if (name != nullptr) fail(std::string("unsupported pickle opcode ") + name + " (" + hex_byte(op) + ")");
          fail("unknown pickle opcode " + hex_byte(op));
        }
      }
    }
  }

  // The top level must be a dict of string -> tensor. Every tensor is materialised as a
  // contiguous tensor owning its memory: a storage used by exactly one entry, which that entry
  // covers contiguously from offset 0, is handed over as it is (no copy); everything else (tied
  // weights, views, slices) is copied out of the storage.
  std::vector<std::pair<std::string, torch::Tensor>> to_state_dict(const Value& root) {
    if (root.kind != Kind::Dict)
      throw Error(path_ + ": data.pkl holds " + describe(root) + ", not a state dict (a dict of name -> tensor)");
    const auto& entries = dicts_[static_cast<size_t>(root.num)];
    std::unordered_set<std::string> seen;
    for (const auto& [key, value] : entries) {
      if (key.kind != Kind::Str) throw Error(path_ + ": state dict has " + describe(key) + " as a key, expected a string");
      if (!seen.insert(str(key)).second) throw Error(path_ + ": state dict repeats the key " + quoted(str(key)));
      if (value.kind != Kind::Tensor)
        throw Error(path_ + ": state dict entry " + quoted(str(key)) + " is " + describe(value) + ", not a tensor");
      ++storages_[tensors_[static_cast<size_t>(value.num)].storage].uses;
    }
    std::vector<std::pair<std::string, torch::Tensor>> out;
    out.reserve(entries.size());
    for (const auto& [key, value] : entries) {
      const TensorView& t = tensors_[static_cast<size_t>(value.num)];
      Storage& s = storages_[t.storage];
      torch::Tensor tensor;
      if (t.numel == 0) {
        tensor = torch::empty(t.sizes, torch::TensorOptions().dtype(s.dtype));
      } else {
        torch::Tensor view = s.data.as_strided(t.sizes, t.strides, t.offset);
        if (s.uses == 1 && t.offset == 0 && t.numel == s.numel && view.is_contiguous())
          tensor = s.data.view(t.sizes);  // sole owner of the whole storage: no copy
        else
          tensor = view.clone(at::MemoryFormat::Contiguous);
      }
      out.emplace_back(str(key), std::move(tensor));
    }
    return out;
  }

  const std::string path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;  // start of the opcode being run, for error messages
  StorageLoader load_storage_;

  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  // Arenas: values refer to their contents by index, so sharing (memo) is cheap and cycles are
  // harmless.
  std::vector<std::string> strings_;
  std::vector<std::vector<Value>> seqs_;  // tuples and lists
  std::vector<std::vector<std::pair<Value, Value>>> dicts_;
  std::vector<Storage> storages_;
  std::unordered_map<std::string, size_t> storage_index_;
  std::vector<TensorView> tensors_;
};

// ---------------------------------------------------------------------------------------------
// The zip container

std::string c10_message(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  // Keep the first sentence: the rest of miniz's messages is generic advice.
  const size_t end = msg.find(". ");
  if (end != std::string::npos) msg.resize(end + 1);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (msg.size() > 300) msg = msg.substr(0, 300) + "...";
  return msg;
}

// Reads one record whole, after checking its size against `limit`.
std::vector<uint8_t> read_small_record(caffe2::serialize::PyTorchStreamReader& reader, const std::string& path,
                                       const std::string& name, uint64_t limit) {
  const size_t size = reader.getRecordSize(name);
  if (size > limit)
    throw Error(path + ": record " + name + " claims " + std::to_string(size) + " bytes, over the limit of " +
                std::to_string(limit) + " for it");
  std::vector<uint8_t> bytes(size);
  if (size > 0) reader.getRecord(name, bytes.data(), size);
  return bytes;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> read_torch_bin(const std::string& path) {
  // Sniff the first bytes: a zip starts with a local file header "PK\3\4". The legacy format
  // (torch < 1.6, or _use_new_zipfile_serialization=False) is a bare pickle stream starting with
  // PROTO (0x80) and a magic number, with storages appended outside any pickle; not supported.
  uint64_t file_size = 0;
  {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a torch.save file");
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
    const std::streamoff end = in.tellg();
    if (end < 0) throw Error(path + ": cannot read");
    file_size = static_cast<uint64_t>(end);
    in.seekg(0);
    char magic[4] = {0, 0, 0, 0};
    in.read(magic, 4);
    if (file_size >= 1 && static_cast<uint8_t>(magic[0]) == 0x80) {
      // PROTO 2, LONG1 of 10 bytes: the legacy format's magic number 0x1950a86a20f9469cfc6c.
      static const uint8_t kLegacy[14] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
      uint8_t head[14] = {};
      in.seekg(0);
      in.read(reinterpret_cast<char*>(head), 14);
      if (in.gcount() == 14 && std::memcmp(head, kLegacy, 14) == 0)
        throw Error(path + ": legacy (pre-1.6) torch.save format, which is not supported: re-save it with torch>=1.6 "
                           "(torch.save(torch.load(f), f)) or convert it to model.safetensors");
      throw Error(path + ": a bare pickle, not a torch.save zip archive: only torch.save(state_dict) files of "
                         "torch>=1.6 are supported (or convert the weights to model.safetensors)");
    }
    if (file_size < 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0)
      throw Error(path + ": not a torch.save file: not a zip archive (torch>=1.6 format) nor the legacy format");
  }
  const uint64_t record_limit = file_size > std::numeric_limits<uint64_t>::max() / kMaxExpansion
                                    ? std::numeric_limits<uint64_t>::max()
                                    : file_size * kMaxExpansion;

  try {
    caffe2::serialize::PyTorchStreamReader reader(path);

    if (reader.hasRecord("byteorder")) {
      const auto order = read_small_record(reader, path, "byteorder", 16);
      const std::string text(order.begin(), order.end());
      if (text != "little")
        throw Error(path + ": byteorder record says " + quoted(text) + "; only little-endian files are supported");
    }
    if (!reader.hasRecord("data.pkl")) throw Error(path + ": zip archive without data.pkl: not a torch.save file");
    const std::vector<uint8_t> pickle =
        read_small_record(reader, path, "data.pkl", std::min(kMaxPickleBytes, record_limit));

    StorageLoader load = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
      const std::string name = "data/" + key;
      if (!reader.hasRecord(name)) throw Error(path + ": storage " + quoted(key) + " has no record " + name);
      const uint64_t item = c10::elementSize(dtype);
      const uint64_t size = reader.getRecordSize(name);
      if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / item ||
          size != static_cast<uint64_t>(numel) * item)
        throw Error(path + ": record " + name + " holds " + std::to_string(size) + " bytes, but data.pkl describes " +
                    std::to_string(numel) + " elements of " + std::to_string(item) + " bytes");
      if (size > record_limit)
        throw Error(path + ": record " + name + " claims " + std::to_string(size) + " bytes, more than this file can hold");
      torch::Tensor data = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
      try {
        if (size > 0) reader.getRecord(name, data.data_ptr(), static_cast<size_t>(size));
      } catch (const c10::Error& e) {
        throw Error(path + ": cannot read record " + name + ": " + c10_message(e));
      }
      if (dtype == at::kBool) {
        // Only 0 and 1 are valid bools; anything else is undefined behaviour in C++ code.
        const auto* bytes = static_cast<const uint8_t*>(data.data_ptr());
        for (uint64_t i = 0; i < size; ++i)
          if (bytes[i] > 1) throw Error(path + ": record " + name + " holds a bool byte other than 0 or 1");
      }
      return data;
    };
    return Unpickler(path, pickle, std::move(load)).read_state_dict();
  } catch (const c10::Error& e) {
    // The stream reader (miniz underneath) reports a damaged zip, a bad CRC, a missing version
    // record and the like as c10::Error.
    throw Error(path + ": damaged or unreadable torch.save zip archive: " + c10_message(e));
  } catch (const std::bad_alloc&) {
    throw Error(path + ": out of memory while reading it");
  }
}

}  // namespace bert::io
