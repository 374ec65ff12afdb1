#!/usr/bin/env python3
"""Writes the small torch.save fixtures of test/io/test_torch_bin.cpp into test/data/torch_bin/.

bert/io/torch_bin.cpp reads `torch.save(state_dict)` files with its own unpickler (LibTorch's
turns collections.OrderedDict into None). These files pin down what the current torch writes:

  dtypes.pt            OrderedDict state dict (with `_metadata`, so the pickle ends in BUILD) of
                       every storage type we read, plus the awkward layouts: a transposed view
                       and a slice (storage_offset 7) sharing one storage with their base, an
                       expanded position_ids-style buffer (stride 0 on a size-1 dim), a 0-dim
                       scalar, an empty tensor, an nn.Parameter (pickled via _rebuild_parameter),
                       the same tensor under two keys, float specials (nan, inf, -0.0).
  dtypes_p4.pt         six of those entries saved with pickle_protocol=4 (FRAME, MEMOIZE,
                       SHORT_BINUNICODE, STACK_GLOBAL instead of protocol 2's opcodes).
  dtypes.safetensors   the expected values: every entry made contiguous, written by
                       safetensors.torch.save_file (an independent writer).
  truncated.pt         the first half of a valid torch.save file (no zip central directory).
  garbage_pkl.pt       a valid archive whose data.pkl is replaced by text.
  truncated_pkl.pt     a valid archive whose data.pkl is cut in half.
  list_top.pt          torch.save([tensor]): the top level is a list, not a dict.
  legacy.pt            torch.save(..., _use_new_zipfile_serialization=False), the pre-1.6 format.

The zip files hold a random `.data/serialization_id`, so re-running changes their bytes but not
their meaning. Run from the repository root:  .venv/bin/python scripts/make_torch_bin_fixtures.py
"""
import collections
import io
import os
import zipfile

import torch
from safetensors.torch import save_file

OUT = os.path.join("test", "data", "torch_bin")


def state_dict():
    torch.manual_seed(0)
    base = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    shared = torch.randn(3)
    sd = collections.OrderedDict()
    sd["f32"] = torch.tensor([1.5, float("nan"), float("inf"), -0.0, -float("inf"), 1e-45])
    sd["f64"] = torch.randn(2, 2, dtype=torch.float64)
    sd["f16"] = torch.randn(2, 3).half()
    sd["bf16"] = torch.randn(3, 2).bfloat16()
    sd["i64"] = torch.tensor([0, -1, 2**40, -(2**62), 7])
    sd["i32"] = torch.tensor([-(2**31), 5, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 12], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 9], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["base"] = base
    sd["transposed"] = base.t()  # strides (1, 5), same storage as base
    sd["sliced"] = base[1:, 2:]  # storage_offset 7, strides (5, 1)
    sd["position_ids"] = torch.arange(7).expand((1, -1))  # as HF's BERT buffer: stride (0, 1)
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.tensor([0.5, -2.0]))
    sd["shared_a"] = shared
    sd["shared_b"] = shared  # the same tensor object: one storage, memoised in the pickle
    sd._metadata = collections.OrderedDict({"": {"version": 1}})
    return sd


def bits(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def save_bytes(obj, **kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def replace_record(archive, suffix, new_data):
    """Copies a zip, replacing the record whose name ends with `suffix`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = new_data if info.filename.endswith(suffix) else src.read(info.filename)
            dst.writestr(info.filename, data)
    return out.getvalue()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    write("dtypes.pt", save_bytes(sd))
    p4 = collections.OrderedDict((k, sd[k]) for k in ("bf16", "sliced", "scalar", "param", "shared_a", "shared_b"))
    write("dtypes_p4.pt", save_bytes(p4, pickle_protocol=4))
    save_file({k: v.detach().contiguous().clone() for k, v in sd.items()}, os.path.join(OUT, "dtypes.safetensors"))

    small = save_bytes({"x": torch.tensor([1.0, 2.0])})
    write("truncated.pt", small[: len(small) // 2])
    write("garbage_pkl.pt", replace_record(small, "/data.pkl", b"this is not a pickle\n"))
    with zipfile.ZipFile(io.BytesIO(small)) as z:
        pkl = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    write("truncated_pkl.pt", replace_record(small, "/data.pkl", pkl[: len(pkl) // 2]))
    write("list_top.pt", save_bytes([torch.tensor([1.0, 2.0])]))
    write("legacy.pt", save_bytes({"x": torch.tensor([1.0, 2.0])}, _use_new_zipfile_serialization=False))

    # Check the fixtures against torch itself.
    for name, want in (("dtypes.pt", sd), ("dtypes_p4.pt", p4)):
        # Our own files; torch's weights_only unpickler does not know protocol 4's FRAME.
        loaded = torch.load(os.path.join(OUT, name), weights_only=False)
        assert list(loaded) == list(want), name
        for k in want:
            assert loaded[k].dtype == want[k].dtype and loaded[k].shape == want[k].shape, k
            assert torch.equal(bits(loaded[k]), bits(want[k])), k
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT) if n != "README.md")
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
