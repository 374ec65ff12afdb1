#!/usr/bin/env bash
# Packs what scripts/gpu_check.sh needs on a GPU machine that has Python, a CUDA PyTorch wheel,
# CMake, ninja and a compiler but none of this project's other packages and no network: the
# headers, shared libraries and CMake package files of CLI11, spdlog + fmt, nlohmann-json, Catch2,
# sentencepiece, utf8proc and Gloo, taken from this Debian machine's packages, plus the benchmark's
# corpus (the Gutenberg novels of ../shared/data) and BERT vocabulary.
#
#   bash scripts/gpu_bundle.sh [OUT]      # OUT defaults to .gpu (ignored by git; ~15 MB)
#
# Layout: OUT/deps/usr and OUT/log/usr are install prefixes (usr/include, usr/lib/..., the CMake
# package files at their Debian places, whose relative paths then resolve inside the bundle).
# spdlog and fmt get a prefix of their own: fmt 9's headers must not sit on bertlib's include path
# beside LibTorch's newer fmt (see CMakeLists.txt). Debian 12's libraries need at most GLIBC 2.34
# and GLIBCXX 3.4.30, which a newer distribution provides.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.gpu}
arch=x86_64-linux-gnu
rm -rf "$out"
deps=$out/deps/usr log=$out/log/usr
mkdir -p "$deps/include" "$deps/lib/$arch/cmake" "$deps/share/cmake" "$deps/lib/cmake" \
         "$log/include" "$log/lib/$arch/cmake" "$out/data"

need() { [[ -e $1 ]] || { echo "gpu_bundle: $1 missing (run scripts/setup.sh first)" >&2; exit 1; }; }
copy() { need "$1"; cp -a "$1" "$2"; }

# Header-only: CLI11, nlohmann-json, Catch2 v2; Gloo's headers for c10d's ProcessGroupGloo.
copy /usr/include/CLI "$deps/include/"
copy /usr/include/nlohmann "$deps/include/"
copy /usr/include/catch2 "$deps/include/"
copy /usr/include/gloo "$deps/include/"
copy /usr/share/cmake/CLI11 "$deps/share/cmake/"
copy /usr/share/cmake/nlohmann_json "$deps/share/cmake/"
copy /usr/lib/cmake/Catch2 "$deps/lib/cmake/"
copy /usr/lib/libCatch2WithMain.a "$deps/lib/"  # named by Catch2's package file (not linked)
# Libraries: sentencepiece (+ trainer), utf8proc.
for h in sentencepiece_processor.h sentencepiece_trainer.h utf8proc.h; do copy "/usr/include/$h" "$deps/include/"; done
for l in libsentencepiece.so libsentencepiece_train.so libutf8proc.so; do
  for f in /usr/lib/$arch/$l*; do cp -a "$f" "$deps/lib/$arch/"; done
done
# spdlog and fmt, in their own prefix.
copy /usr/include/spdlog "$log/include/"
copy /usr/include/fmt "$log/include/"
copy /usr/lib/$arch/cmake/spdlog "$log/lib/$arch/cmake/"
copy /usr/lib/$arch/cmake/fmt "$log/lib/$arch/cmake/"
for l in libspdlog.so libfmt.so; do
  for f in /usr/lib/$arch/$l*; do cp -a "$f" "$log/lib/$arch/"; done
done

# Benchmark data.
copy "$root/../shared/data/corpus/gutenberg" "$out/data/"
copy "$root/../shared/data/vocab/bert-base-uncased-vocab.txt" "$out/data/vocab.txt"

echo "gpu_bundle: $(du -sh "$out" | cut -f1) in $out"
