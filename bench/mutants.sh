#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut 3 (configured in pyproject.toml [tool.mutmut]).
# Not part of CI: on this 2-core machine a full run takes hours (see bench/mutants.md).
#
#   bench/mutants.sh                 # every mutant not yet tried (results are kept in mutants/,
#                                    # and copied to bench/mutants-state/ to commit, so the next
#                                    # clone resumes: mutmut keeps a verdict while its function's
#                                    # code is unchanged, and tries that function's mutants again
#                                    # when it has changed)
#   bench/mutants.sh NAME|GLOB ...   # these mutants again, e.g. after writing a test for them
#   bench/mutants.sh --fresh         # forget earlier results and try every mutant again
#   bench/mutants.sh --score         # only the figures of the results kept so far
#   MUTMUT_CHILDREN=1 bench/mutants.sh
#
# Prints the surviving mutants not listed as equivalent in bench/mutants.md (each one is a test
# to write or an equivalence to explain there), then the figures, and last the score:
#   score=KILLED/(TRIED-EQUIVALENT) as a percentage (goal >= 90 %).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
"$python" -c "import mutmut" 2>/dev/null || "$python" -m pip install -q 'mutmut>=3.3,<4'

started=$(date +%s)
state=bench/mutants-state
restored=
restore() {  # the verdicts of earlier runs, from the repository, into a fresh mutants/
  if [ -d "$state" ] && [ -z "$(find mutants -name '*.meta' 2>/dev/null | head -1)" ]; then
    (cd "$state" && find . -name '*.meta' -exec install -D -m 644 {} ../../mutants/{} \;)
    restored=yes
  fi
}
retry_survivors() {  # tests written since may catch them: a survivor's verdict is not kept
  "$python" - <<'PY'
import json
from pathlib import Path
for meta in Path("mutants").rglob("*.meta"):
    data = json.loads(meta.read_text())
    codes = data["exit_code_by_key"]
    data["exit_code_by_key"] = {k: (None if v == 0 else v) for k, v in codes.items()}
    meta.write_text(json.dumps(data, indent=4))
PY
}
save() {  # ... and back, to commit
  if [ -d mutants ]; then
    (cd mutants && find . -name '*.meta' -exec install -D -m 644 {} "../$state/{}" \;)
  fi
}
case "${1:-}" in
  --score) restore ;;
  --fresh) rm -rf mutants "$state"; shift ;&
  *)
    restore
    [ -n "$restored" ] && retry_survivors
    trap save EXIT
    # mutmut's own progress line is redrawn thousands of times: keep its last state only.
    # (Names given are tried again even if they were tried before.)
    "$python" -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@" | tr '\r' '\n' | tail -n 4 || true ;;
esac

"$python" - "$started" <<'PY'
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

# Caught: a test failed, or the mutant hung or crashed the tests (mutmut stops it after a
# multiple of its tests' time: -9/-24 are its SIGKILL and SIGXCPU).
CAUGHT = ("killed", "timeout", "segfault")
results = {}
for meta in sorted(Path("mutants").rglob("*.py.meta")):
    results.update(json.loads(meta.read_text())["exit_code_by_key"])
# bench/mutants.md lists equivalent mutants as `module.x_function__mutmut_N`.
equivalent = set(re.findall(r"`([\w.ǁ]+__mutmut_\d+)`", Path("bench/mutants.md").read_text(encoding="utf-8")))
status = {name: status_by_exit_code[code] for name, code in results.items()}
for name in sorted(n for n, s in status.items() if s in ("survived", "no tests", "suspicious") and n not in equivalent):
    print(f"unexplained: {name} ({status[name]})")
for name in sorted(n for n in equivalent if status.get(n) in CAUGHT):
    print(f"listed as equivalent but killed now (remove it from bench/mutants.md): {name}")
by_module: dict[str, Counter] = {}
for name, s in status.items():
    by_module.setdefault(name.split(".x")[0], Counter())[s] += 1
for module, counts in sorted(by_module.items()):
    print(f"{module}: " + ", ".join(f"{n} {s}" for s, n in counts.most_common()))
tried = {n for n, s in status.items() if s not in ("not checked", "check was interrupted by user")}
killed = sum(status[n] in CAUGHT for n in tried)
listed = sum(status[n] not in CAUGHT for n in equivalent & tried)
print(f"{len(results)} mutants, {len(tried)} tried, {killed} caught (killed, timed out or crashed), "
      f"{listed} listed as equivalent; {time.time() - float(sys.argv[1]):.0f} s")
print(f"score={100 * killed / max(len(tried) - listed, 1):.1f}%")
PY
