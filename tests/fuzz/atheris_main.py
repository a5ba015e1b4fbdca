"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python).

    python tests/fuzz/atheris_main.py review CORPUS_DIR -max_total_time=60 -print_final_stats=1

webhook's own modules are instrumented for coverage; the properties are tests/fuzz/targets.py's.
libFuzzer's flags apply (-timeout=SECONDS per input, -rss_limit_mb=MB); a property violation or
an unexpected exception is a crash, written to ./crash-<sha1> for reproduction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["webhook", "tests.fuzz"]):
    from tests.fuzz import targets


def main() -> None:
    name = sys.argv.pop(1)
    target = targets.TARGETS[name]
    if name in ("review", "policy"):
        targets.pod_security()  # compile once before the clock per input starts
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
