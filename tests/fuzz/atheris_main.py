"""Coverage-guided fuzzing of one target with atheris (libFuzzer for Python).

    python tests/fuzz/atheris_main.py review CORPUS_DIR -max_total_time=60 -print_final_stats=1

The modules that handle the target's input are instrumented for coverage (INSTRUMENTED; the CEL
layer and the evaluator stay as they are, which keeps the start fast); the properties are
tests/fuzz/targets.py's.
libFuzzer's flags apply (-timeout=SECONDS per input, -rss_limit_mb=MB); a property violation or
an unexpected exception is a crash, written to ./crash-<sha1> for reproduction.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

INSTRUMENTED = {
    "documents": ["webhook.limits", "webhook.yaml_limits", "webhook.documents"],
    "review": ["webhook.limits", "webhook.admission.review", "webhook.policy.attributes"],
    "policy": ["webhook.policy.shape", "webhook.policy.validation", "webhook.policy.loader", "webhook.policy.compiler",
               "webhook.policy.model"],
}


def main() -> None:
    name = sys.argv.pop(1)
    with atheris.instrument_imports(include=INSTRUMENTED[name]):
        for module in INSTRUMENTED[name]:
            importlib.import_module(module)
    from tests.fuzz import targets

    target = targets.TARGETS[name]
    if name == "review":
        targets.review_policies()  # compile once, before libFuzzer's per-input clock starts
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
