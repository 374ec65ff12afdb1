# Sourced by the side-by-side benchmarks: the repository root as working directory, our binary
# (BERT_BIN, default build/bert) and the venv's Python, both checked, and /usr/bin/time (peak RSS).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bert=${BERT_BIN:-$root/build/bert}
py=$root/.venv/bin/python
[[ -x $bert ]] || { echo "$bert: not built (run scripts/setup.sh, or set BERT_BIN)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time: not installed (peak RSS)" >&2; exit 1; }
