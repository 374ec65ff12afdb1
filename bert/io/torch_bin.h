// Reading `torch.save(model.state_dict())` files (Hugging Face's classic `pytorch_model.bin`)
// without Python.
//
// Why our own reader: the file is a zip archive whose `data.pkl` is a Python pickle of the state
// dict, and a state dict is a `collections.OrderedDict`. LibTorch's unpickler (behind
// `torch::pickle_load`) deliberately turns `collections.OrderedDict` into None, so it fails on
// every state dict with "Expected GenericDict but got None". So torch_bin.cpp carries a small,
// strict unpickler for exactly the subset of pickle that torch.save emits (protocol 2, its
// default, and protocol 4 for files saved with `pickle_protocol=4`); the zip container is read
// with LibTorch's own `caffe2::serialize::PyTorchStreamReader`.
//
// Untrusted input: unlike Python's pickle, nothing in the file is ever executed. Only the globals
// a state dict needs are known (OrderedDict, torch._utils._rebuild_tensor_v2 /
// _rebuild_parameter, the torch.*Storage types); any other global or opcode is an error naming
// it, every length and tensor view is checked against the bytes actually there.
#pragma once

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace bert::io {

// Reads the state dict saved in `path` (torch >= 1.6 zip format), keys in file order. Each
// tensor is a contiguous CPU tensor with its stored dtype (F32, F64, F16, BF16, I64, I32, I16,
// I8, U8, BOOL) that owns its memory: tensors that shared a storage in the file (tied weights
// such as the MLM decoder and the word embeddings, views, the same tensor under two keys) come
// back as separate copies. Throws bert::Error "<path>: <problem>" for anything else: the legacy
// pre-1.6 format, a damaged zip, a damaged or unsupported pickle (naming the opcode or global),
// a top level that is not a dict of string → tensor, a storage record of the wrong size, a
// tensor view that reaches past its storage.
std::vector<std::pair<std::string, torch::Tensor>> read_torch_bin(const std::string& path);

}  // namespace bert::io
