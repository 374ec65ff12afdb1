#!/usr/bin/env bash
# The one script to run on a GPU machine: builds bert against the machine's CUDA PyTorch wheel with
# all cores, runs the CUDA tests (`bert_tests "[cuda]"`, each test case in its own process), shows
# where a training step's time goes (BERT_STEP_TIMING=1), then pre-trains bert-base (seq 128, bf16)
# with `bert pretrain` and with Hugging Face transformers' BertForPreTraining (bench/hf_pretrain.py)
# on the same GPU, alternating, and prints tokens/s, the ratio and the model FLOPs utilisation. Our
# side runs twice per round: the eager loop, and with --cuda-graphs (one replay per step instead of
# ~1,500 kernel launches). On an H100 machine (16 cores) the run without the graph cases took
# 5.5 min; exit code 0 when every CUDA test passed.
#
#   bash scripts/gpu_bundle.sh                 # here, on a Debian machine with scripts/setup.sh done
#   bash scripts/gpu_check.sh                  # there, with .gpu/ carried beside the working tree
#
# The GPU machine needs Python with a CUDA torch 2.x and transformers, CMake, ninja and g++; the
# rest (CLI11, spdlog/fmt, nlohmann-json, Catch2, sentencepiece, utf8proc, Gloo headers, the corpus
# and vocabulary) comes from the bundle that scripts/gpu_bundle.sh makes (BUNDLE, default .gpu).
# LibTorch is found through torch.utils.cmake_prefix_path; where the wheel's CMake package cannot
# be configured (it wants a CUDA toolkit matching the wheel), the build links the wheel's
# libraries directly (-DBERT_TORCH_DIR) instead.
#
# Benchmark (both sides): bert-base from random initialisation, MLM + NSP, sequence length 128,
# bf16 autocast, AdamW (fused kernel on both sides; lr 1e-4, 2 warmup steps, linear decay), clipping
# 1.0, dropout on, the Gutenberg novels. tokens/s = token positions (batch x 128) per second over
# the timed steps, after WARMUP untimed steps; every example fills the 128 positions on both sides.
# MFU = achieved model FLOPs per second / the GPU's dense bf16 peak (PEAK_TFLOPS, default 989.4:
# H100 SXM; H200 the same). Model FLOPs per token position = 6 x (encoder weight-matrix parameters)
# + 12 x layers x seq_len x hidden (attention scores and their use, forward + backward) + the MLM
# head's 6 x (hidden^2 + hidden x vocab) on the 15 % masked positions + NSP/pooler: the work BERT
# pre-training needs. The same count is used for both sides, so Hugging Face's head on every
# position (~23 % more arithmetic) counts as overhead, not as useful FLOPs.
#
# Environment: BUNDLE, OUT (logs and gpu_check.json; default build-gpu/out), PYTHON (python3),
# BATCHES ("128 32": per-step batch of each case), ROUNDS (2: alternating rounds of the first case;
# the others run once), WARMUP (5), STEPS (30), DEADLINE (420 s: no new benchmark run starts after
# it), PEAK_TFLOPS (989.4), TESTS_TIMEOUT (240 s per test case), PROFILE (1: the step timing, at
# PROFILE_BATCHES "128", eager and with --cuda-graphs), GRAPHS (1 on a GPU: the --cuda-graphs
# cases), OURS_EXTRA (more flags for our side). A smoke test of the script itself on a CPU machine: BUILD=build SKIP_BUILD=1
# DEVICE=cpu PRECISION=fp32 MODEL_CONFIG=configs/bert-tiny.json BATCHES=4 WARMUP=1 STEPS=2.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bundle=${BUNDLE:-$root/.gpu}
out=${OUT:-$root/build-gpu/out}
py=${PYTHON:-python3}
batches=${BATCHES:-"128 32"}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-5}
steps=${STEPS:-30}
deadline=${DEADLINE:-420}
peak=${PEAK_TFLOPS:-989.4}
build=${BUILD:-$root/build-gpu}
device=${DEVICE:-cuda}
precision=${PRECISION:-bf16}
model_config=${MODEL_CONFIG:-configs/bert-base.json}
graphs=${GRAPHS:-$([[ $device == cuda* ]] && echo 1 || echo 0)}
start=$(date +%s)
mkdir -p "$out"
stage() { echo "== [$(($(date +%s) - start)) s] $*"; }
fail() { echo "gpu_check: $*" >&2; exit 1; }

stage "machine"
[[ -d $bundle/deps ]] || fail "$bundle: no bundle (run scripts/gpu_bundle.sh where the packages are, carry .gpu)"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
"$py" -c "import torch, transformers, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)" ||
  fail "$py cannot import torch and transformers"
echo "g++ $(g++ -dumpfullversion 2>/dev/null); $(cmake --version | head -1); ninja $(ninja --version 2>/dev/null); nproc $(nproc)"
# What the wheel ships for c10d's NCCL backend (the issue asks what was found).
"$py" - <<'PY' || true
import glob, os, torch, torch.distributed as dist
here = os.path.dirname(torch.__file__)
c10d = os.path.join(here, "include/torch/csrc/distributed/c10d")
print("c10d:", "ProcessGroupNCCL.hpp" if os.path.exists(f"{c10d}/ProcessGroupNCCL.hpp") else "no ProcessGroupNCCL.hpp",
      "ProcessGroupGloo.hpp" if os.path.exists(f"{c10d}/ProcessGroupGloo.hpp") else "no ProcessGroupGloo.hpp",
      "| nccl available:", dist.is_nccl_available(), "version", torch.cuda.nccl.version() if torch.cuda.is_available() else None,
      "| gloo available:", dist.is_gloo_available())
print("nccl.h:", glob.glob(os.path.join(os.path.dirname(here), "nvidia/nccl*/include/nccl.h")) +
      glob.glob("/usr/local/cuda*/include/nccl.h") + glob.glob("/usr/include/nccl.h"))
print("gloo headers in the wheel:", os.path.exists(os.path.join(here, "include/gloo")))
PY
for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do [[ -x $d/nvcc ]] && { PATH=$PATH:$d; break; }; done
echo "nvcc: $(command -v nvcc || echo none) $(nvcc --version 2>/dev/null | tail -1)"
export LD_LIBRARY_PATH=$bundle/deps/usr/lib/x86_64-linux-gnu:$bundle/log/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

configure_and_build() {
  stage "configure"
  local torch_prefix torch_dir abi common
  torch_prefix=$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
  torch_dir=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
  abi=$("$py" -c 'import torch; print("ON" if torch.compiled_with_cxx11_abi() else "OFF")')
  common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBERT_PYTHON= "-DCMAKE_PREFIX_PATH=$torch_prefix;$bundle/deps/usr;$bundle/log/usr")
  if ! cmake -S . -B "$build" "${common[@]}" >"$out/configure.log" 2>&1; then
    grep -A12 "CMake Error" "$out/configure.log" | head -40
    stage "configure: the wheel's CMake package failed (above); linking its libraries directly"
    rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
    cmake -S . -B "$build" "${common[@]}" -DBERT_TORCH_DIR="$torch_dir" -DBERT_TORCH_CXX11_ABI="$abi" \
      >"$out/configure2.log" 2>&1 || { tail -40 "$out/configure2.log"; fail "configure failed"; }
  fi
  grep -E "Gloo headers|LibTorch linked|Found Torch|CUDA detected|CUDA graphs|NCCL" "$out/configure.log" "$out/configure2.log" 2>/dev/null

  # -k 0: the binary (all the benchmark needs) even where a test file does not compile.
  stage "build ($(nproc) jobs)"
  cmake --build "$build" -j "$(nproc)" -- -k 0 >"$out/build.log" 2>&1 ||
    grep -B2 -A12 "error" "$out/build.log" | head -80
  # A backend whose headers do not compile here is left out rather than losing the whole run.
  local off=()
  grep -q "FAILED: .*nccl_backend" "$out/build.log" && off+=(-DBERT_NCCL=OFF)
  grep -q "FAILED: .*process_group" "$out/build.log" && off+=(-DBERT_GLOO=OFF)
  if [[ ! -x $build/bert && ${#off[@]} -gt 0 ]]; then
    stage "build: retrying with ${off[*]} (that backend off in this build)"
    cmake -S . -B "$build" "${off[@]}" >>"$out/configure.log" 2>&1
    cmake --build "$build" -j "$(nproc)" -- -k 0 >"$out/build2.log" 2>&1 || grep -A12 "error" "$out/build2.log" | head -60
  fi
  [[ -x $build/bert ]] || fail "build failed"
  [[ -x $build/bert_tests ]] || echo "gpu_check: bert_tests did not build (above)"
}
[[ ${SKIP_BUILD:-0} == 1 ]] || configure_and_build
bert=$build/bert
"$bert" --version

stage "CUDA tests"
# One process per test case: a crash in one cannot hide the others' results.
tests_rc=0
if [[ -x $build/bert_tests ]]; then
  while IFS= read -r name; do
    [[ -z $name ]] && continue
    start_case=$(date +%s)
    # A comma separates test specs for Catch: escape it.
    timeout "${TESTS_TIMEOUT:-240}" "$build/bert_tests" "${name//,/\\,}" >>"$out/cuda_tests.log" 2>&1
    rc=$?
    echo "$( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)")  $(($(date +%s) - start_case)) s  $name"
    ((rc == 0)) || tests_rc=1
  done < <("$build/bert_tests" "[cuda]" --list-test-names-only | sed 's/^ *//')
  grep -E "FAILED|with expansion|explicitly with|max \|diff\|" "$out/cuda_tests.log" | head -40
else
  tests_rc=1
fi
echo "CUDA tests exit code $tests_rc"

work=$build/bench
rm -rf "$work"
mkdir -p "$work/vocab"
cp "$bundle/data/vocab.txt" "$work/vocab/vocab.txt"
corpus=$bundle/data/gutenberg
# Untimed: our token cache, built once.
"$bert" pretrain --corpus "$corpus" --tokenizer "$work/vocab" --model-config configs/bert-tiny.json --out "$work/cache_run" \
  --cache-dir "$work/cache" --max-steps 1 --batch-size 2 --eval-fraction 0 --log-level warn >"$out/cache.log" 2>&1 ||
  { tail -20 "$out/cache.log"; fail "token cache"; }
ours_args() {  # batch seed: the pre-training command line shared by the profile and the benchmark
  echo --corpus "$corpus" --tokenizer "$work/vocab" --model-config "$model_config" --cache-dir "$work/cache" \
    --device "$device" --precision "$precision" --batch-size "$1" --seq-len 128 --lr 1e-4 --warmup-steps 2 \
    --schedule linear --weight-decay 0.01 --adam-eps 1e-6 --clip-norm 1.0 --max-predictions 0 --short-seq-prob 0 \
    --seed "$2" --eval-fraction 0 --save-every 1000000 --log-every 1 --log-level warn ${OURS_EXTRA:-}
}

if [[ ${PROFILE:-1} == 1 ]]; then
  # Where our step time goes: host time to launch each phase vs what the GPU still needed after.
  for b in ${PROFILE_BATCHES:-128}; do
    for extra in "" $( ((graphs)) && echo --cuda-graphs); do
      stage "step timing: batch $b ${extra:-(default threads)}"
      # shellcheck disable=SC2046
      BERT_STEP_TIMING=1 "$bert" pretrain $(ours_args "$b" 1) --max-steps 12 $extra --out "$work/profile" 2>&1 |
        grep -A12 "step timing" | tail -n +2
      rm -rf "$work/profile"
    done
  done
fi

stage "benchmark: $model_config, seq 128, $precision, batches $batches"
results=$out/bench.tsv
: >"$results"
gpu_mem_start() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$work/mem" 2>/dev/null & mem_pid=$!; }
gpu_mem_peak() {
  kill "$mem_pid" 2>/dev/null
  wait "$mem_pid" 2>/dev/null
  local peak
  peak=$(sort -n "$work/mem" | tail -1)
  echo "${peak:--}"
}
run_ours() {  # batch round [system flags...]: "ours" without flags; "ours-graphs" with --cuda-graphs
  local system=${3:-ours} rate
  local run=$work/${system}_$1_$2 log=$out/${system}_$1_$2.log
  gpu_mem_start
  # shellcheck disable=SC2046
  "$bert" pretrain $(ours_args "$1" "$2") "${@:4}" --max-steps $((warmup + steps)) --out "$run" \
    >"$log" 2>&1 || { tail -20 "$log"; gpu_mem_peak >/dev/null; return 1; }
  local mem
  mem=$(gpu_mem_peak)
  rate=$("$py" - "$run/metrics.jsonl" "$warmup" "$steps" "$1" <<'PY'
import json, sys
path, warmup, steps, batch = sys.argv[1], *map(int, sys.argv[2:])
rec = {r["step"]: r for r in map(json.loads, open(path)) if "tokens_per_s" in r}
print(f"{batch * 128 * steps / (rec[warmup + steps]['time'] - rec[warmup]['time']):.1f}\t{rec[warmup + steps]['loss']:.4f}")
PY
)
  printf '%s\t%s\t%s\t%s\t%s\n' "$system" "$1" "$2" "$rate" "$mem" >>"$results"
  rm -rf "$run"
}
run_hf() {  # batch round
  local line
  gpu_mem_start
  local bf16=()
  [[ $precision == bf16 ]] && bf16=(--bf16)
  line=$("$py" bench/hf_pretrain.py --config "$model_config" --vocab "$work/vocab" --corpus "$corpus" \
    --batch-size "$1" --seq-len 128 --lr 1e-4 --lr-warmup-steps 2 --warmup-steps "$warmup" --steps "$steps" \
    --seed "$2" --device "$device" "${bf16[@]}" 2>"$out/hf_$1_$2.log" | tail -n 1) || { tail -20 "$out/hf_$1_$2.log"; return 1; }
  local mem
  mem=$(gpu_mem_peak)
  echo "$line" >>"$out/hf_$1_$2.log"
  printf 'transformers\t%s\t%s\t%s\t%s\n' "$1" "$2" \
    "$("$py" -c 'import json, sys; j = json.loads(sys.argv[1]); print(j["tokens_per_s"], j["last_loss"], sep="\t")' "$line")" \
    "$mem" >>"$results"
}
first=1
for b in $batches; do
  n=$((first ? rounds : 1))
  for r in $(seq 1 "$n"); do
    if (($(date +%s) - start > deadline)); then stage "deadline ${deadline} s reached: no more runs"; break 2; fi
    stage "batch $b, round $r/$n"
    # Our eager loop, ours with CUDA graphs, and transformers, in an order that alternates per round.
    if ((r % 2)); then
      run_ours "$b" "$r"; ((graphs)) && run_ours "$b" "$r" ours-graphs --cuda-graphs; run_hf "$b" "$r"
    else
      run_hf "$b" "$r"; ((graphs)) && run_ours "$b" "$r" ours-graphs --cuda-graphs; run_ours "$b" "$r"
    fi
  done
  first=0
done

stage "summary"
"$py" - "$results" "$peak" "$model_config" "$out/gpu_check.json" "$tests_rc" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
peak, cfg = float(sys.argv[2]), json.load(open(sys.argv[3]))
L, H, I, V, S = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], 128
encoder = L * (4 * H * H + 2 * H * I)
flops_per_token = 6 * encoder + 12 * L * S * H + 0.15 * 6 * (H * H + H * V) + 6 * (H * H + 2 * H) / S
print(f"model FLOPs per token position: {flops_per_token / 1e6:.0f} M (encoder {6 * encoder / 1e6:.0f} M); peak {peak} TFLOP/s")
print(f"\n{'system':<13} {'batch':>5} {'round':>5} {'tokens/s':>10} {'MFU':>6} {'loss':>7} {'GPU MiB':>8}")
for system, batch, rnd, tps, loss, mem in rows:
    print(f"{system:<13} {batch:>5} {rnd:>5} {float(tps):>10.0f} {float(tps) * flops_per_token / peak / 1e12:>6.1%} {float(loss):>7.3f} {mem:>8}")
summary = {"flops_per_token": flops_per_token, "peak_tflops": peak, "cuda_tests_exit": int(sys.argv[5]), "cases": []}
print(f"\n{'batch':>5} {'system':<13} {'tokens/s':>10} {'vs HF':>7} {'MFU':>6}   (medians over rounds)")
mfu = lambda t: t * flops_per_token / peak / 1e12
for batch in dict.fromkeys(r[1] for r in rows):
    med = lambda s: statistics.median(float(r[3]) for r in rows if r[0] == s and r[1] == batch) if any(
        r[0] == s and r[1] == batch for r in rows) else float("nan")
    hf = med("transformers")
    case = {"batch": int(batch), "hf_tokens_per_s": hf, "hf_mfu": mfu(hf)}
    for system, key in (("ours", "ours"), ("ours-graphs", "ours_graphs"), ("transformers", None)):
        tps = med(system)
        if tps == tps:  # not NaN: the system ran
            print(f"{batch:>5} {system:<13} {tps:>10.0f} {tps / hf:>6.2f}x {mfu(tps):>6.1%}")
        if key:
            case.update({f"{key}_tokens_per_s": tps, f"{key}_ratio": tps / hf, f"{key}_mfu": mfu(tps)})
    summary["cases"].append(case)
json.dump(summary, open(sys.argv[4], "w"), indent=1)
PY
stage "done (CUDA tests exit code $tests_rc)"
exit "$tests_rc"
