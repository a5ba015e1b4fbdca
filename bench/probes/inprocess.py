"""In-process measurements of one celgate tree; run by bench/suite.py as

    PYTHONPATH=<tree> python bench/probes/inprocess.py {decide,load,profile} --policies DIR ...

It imports only ``webhook`` (from whichever tree PYTHONPATH names) and the standard library,
and prints one ``CELGATE_PROBE {json}`` line. Kept API-neutral: the calls it makes
(load_policy_set, cluster_for, attributes_for_documents, decide) are looked up in ``_api``,
the one place to adapt when a revision moves them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable


def _api() -> dict[str, Callable[..., Any]]:
    from webhook.admission.dry_run import DryRunRequest, attributes_for_documents, cluster_for
    from webhook.documents import Document
    from webhook.policy.dispatcher import decide
    from webhook.policy.loader import load_policy_set

    return {"load": load_policy_set, "cluster_for": cluster_for, "attributes": attributes_for_documents,
            "request": DryRunRequest, "document": Document, "decide": decide}


def _webhook_origin() -> str:
    import webhook

    return str(Path(webhook.__file__).resolve().parent)


def _requests(api: dict[str, Callable[..., Any]], pods: dict[str, Any], labels: dict[str, dict[str, str]]):
    document = api["document"]
    documents = {name: document(source=f"bench:{name}", index=0, line=1, obj=pod) for name, pod in pods.items()}
    cluster = api["cluster_for"](list(documents.values()), namespace_labels=labels)
    pairs = api["attributes"](list(documents.values()), api["request"]())
    return cluster, {name: attributes for (doc, attributes), name in zip(pairs, documents)}


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def decide(args: argparse.Namespace) -> dict[str, Any]:
    api = _api()
    policy_set = api["load"]([args.policies])
    pods = json.loads(Path(args.pods).read_text())
    cluster, requests = _requests(api, pods, json.loads(args.labels))
    results: dict[str, Any] = {}
    for name, attributes in requests.items():
        decision = api["decide"](policy_set, attributes, cluster)
        for _ in range(args.warmup):
            api["decide"](policy_set, attributes, cluster)
        samples: list[float] = []
        began = time.perf_counter()
        while len(samples) < args.min_runs or time.perf_counter() - began < args.seconds:
            started = time.perf_counter()
            api["decide"](policy_set, attributes, cluster)
            samples.append(time.perf_counter() - started)
            if len(samples) >= args.max_runs:
                break
        ordered = sorted(samples)
        results[name] = {
            "allowed": bool(decision.allowed),
            "runs": len(samples),
            "median_us": statistics.median(ordered) * 1e6,
            "p99_us": _percentile(ordered, 0.99) * 1e6,
            "min_us": ordered[0] * 1e6,
        }
    return {"pods": results}


def load(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    api = _api()
    imported = time.perf_counter() - began
    started = time.perf_counter()
    policy_set = api["load"]([args.policies])
    seconds = time.perf_counter() - started
    problems = getattr(policy_set, "problems", None)
    return {"import_s": imported, "load_s": seconds, "policies": len(getattr(policy_set, "policies", {}) or {}),
            "problems": len(problems) if problems is not None else None}


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """pyinstrument (1 ms interval) over ``args.seconds`` of decide() on one Pod; the top entries by own time."""
    from pyinstrument import Profiler

    api = _api()
    policy_set = api["load"]([args.policies])
    pods = json.loads(Path(args.pods).read_text())
    cluster, requests = _requests(api, pods, json.loads(args.labels))
    attributes = requests[args.pod]
    for _ in range(args.warmup):
        api["decide"](policy_set, attributes, cluster)
    profiler = Profiler(interval=0.001)
    runs = 0
    profiler.start()
    began = time.perf_counter()
    while time.perf_counter() - began < args.seconds:
        api["decide"](policy_set, attributes, cluster)
        runs += 1
    profiler.stop()
    session = profiler.last_session
    own: dict[str, float] = {}
    total: dict[str, float] = {}

    def walk(frame: Any, ancestors: frozenset[str]) -> None:
        if frame.is_synthetic:  # [self], [await] and the like: their time is their parent's own time
            return
        key = _entry(frame)
        own[key] = own.get(key, 0.0) + frame.total_self_time
        if key not in ancestors:  # recursion: count a function's inclusive time once per stack
            total[key] = total.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, ancestors | {key})

    root = session.root_frame()
    if root is not None:
        walk(root, frozenset())
    duration = session.duration or 1.0
    top = sorted(own.items(), key=lambda item: item[1], reverse=True)[: args.top]
    return {
        "pod": args.pod, "runs": runs, "seconds": duration, "us_per_decide": duration / max(runs, 1) * 1e6,
        "top_self": [{"entry": k, "self_pct": 100 * v / duration, "total_pct": 100 * total.get(k, 0.0) / duration}
                     for k, v in top],
    }


def _entry(frame: Any) -> str:
    function = frame.function or "?"
    if "pybind11_detail_function_record" in function:  # cel-cpp's bindings: Activation, eval, plain_value
        return f"cel_expr_python {function.rpartition('.')[2]} (native)"
    if frame.file_path is None or frame.file_path.startswith("<"):
        return f"{function} (builtin)"
    return f"{function} ({_short(frame.file_path)}:{frame.line_no})"


def _short(path: str | None) -> str:
    if not path:
        return "?"
    parts = Path(path).parts
    for anchor in ("webhook", "cel_expr_python", "site-packages"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[index:])
    return "/".join(parts[-2:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=["decide", "load", "profile"])
    parser.add_argument("--policies", required=True)
    parser.add_argument("--pods", help="JSON file: {name: Pod}")
    parser.add_argument("--labels", default="{}", help="JSON: {namespace: {label: value}}")
    parser.add_argument("--pod", default="typical", help="the Pod to profile")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--min-runs", type=int, default=20)
    parser.add_argument("--max-runs", type=int, default=200_000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    result = {"decide": decide, "load": load, "profile": profile}[args.probe](args)
    result["webhook"] = _webhook_origin()
    print("CELGATE_PROBE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
