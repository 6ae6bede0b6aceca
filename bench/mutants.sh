#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut 3 (configured in pyproject.toml [tool.mutmut]).
# Not part of CI: on this 2-core machine a full run takes the better part of an hour.
#
#   bench/mutants.sh                 # every mutant not yet tried (results are kept in mutants/)
#   bench/mutants.sh --fresh         # forget earlier results and try every mutant again
#   MUTMUT_CHILDREN=1 bench/mutants.sh
#
# Prints the surviving mutants not listed as equivalent in bench/mutants.md (each one is a test
# to write or an equivalence to explain there), then the score, last:
#   score=KILLED/(TOTAL-EQUIVALENT) as a percentage (goal >= 90 %).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
"$python" -c "import mutmut" 2>/dev/null || "$python" -m pip install -q 'mutmut>=3.3,<4'

if [[ "${1:-}" == "--fresh" ]]; then
  rm -rf mutants
  shift
fi

started=$(date +%s)
# mutmut's own progress line is redrawn thousands of times: keep its last state only.
"$python" -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@" | tr '\r' '\n' | tail -n 4
"$python" -m mutmut export-cicd-stats >/dev/null
"$python" -m mutmut results --all true > mutants/results.txt

"$python" - "$started" <<'PY'
import json
import re
import sys
import time
from pathlib import Path

stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
# bench/mutants.md lists equivalent mutants as `module.x_function__mutmut_N` in its table.
equivalent = set(re.findall(r"`([\w.]+__mutmut_\d+)`", Path("bench/mutants.md").read_text(encoding="utf-8")))
results = dict(line.strip().rsplit(": ", 1) for line in Path("mutants/results.txt").read_text().splitlines()
               if ": " in line)
alive = sorted(name for name, status in results.items()
               if status in ("survived", "no tests", "suspicious", "timeout") and name not in equivalent)
stale = sorted(name for name in equivalent if results.get(name) == "killed")
for name in alive:
    print(f"unexplained: {name} ({results[name]})")
for name in stale:
    print(f"listed as equivalent but killed now (remove it from bench/mutants.md): {name}")
counted = stats["total"] - len(equivalent & set(results))
print(f"killed {stats['killed']}, survived {stats['survived']}, no tests {stats['no_tests']}, "
      f"timeout {stats['timeout']}, suspicious {stats['suspicious']}, of {stats['total']} mutants; "
      f"{len(equivalent & set(results))} listed as equivalent; {time.time() - float(sys.argv[1]):.0f} s")
print(f"score={100 * stats['killed'] / max(counted, 1):.1f}%")
PY
