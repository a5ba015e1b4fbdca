"""``python -m bench``: every figure of docs/bench.md, for the current tree beside a baseline
revision, as one table on stdout and JSON in a file.

    python -m bench [--only decide,load,cli,webhook,e2e,kyverno] [--quick] [--profile]
                    [--baseline REV | --no-baseline] [--out FILE]

Sections run in the order above; within a section the current tree and the baseline run back
to back (the webhook's levels alternate between two live servers), so a change in the
machine's load hits both alike. A section that cannot run (no PSA
corpus, no control plane, no Kyverno CLI) gives one "skipped: <reason>" row and the run goes on.
Exit code 0 when every section that ran produced its figures, 1 when one failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from bench import cli_throughput, e2e_latency, kyverno, load_generator, machine, webhook_load, workloads
from bench.report import Figure, Run, render
from bench.trees import CACHE, Tree, TreeError, baseline_tree, current_tree, default_baseline

SECTIONS = ("decide", "load", "cli", "webhook", "e2e", "kyverno")
PROBE = Path(__file__).resolve().parent / "probes" / "inprocess.py"


@dataclass(frozen=True)
class Settings:
    """Durations and sizes of one run; --quick shrinks every one of them."""

    decide_seconds: float
    load_runs: int
    startup_runs: int
    stream_size: int
    webhook_levels: tuple[int, ...]
    webhook_seconds: float
    webhook_warmup: float
    e2e_creates: int
    kyverno_objects: int
    profile_seconds: float


FULL = Settings(decide_seconds=3.0, load_runs=2, startup_runs=3, stream_size=workloads.STREAM_SIZE,
                webhook_levels=(1, 8, 64, 256), webhook_seconds=8.0, webhook_warmup=2.0, e2e_creates=150,
                kyverno_objects=150, profile_seconds=5.0)
QUICK = Settings(decide_seconds=0.3, load_runs=1, startup_runs=1, stream_size=300, webhook_levels=(1, 8),
                 webhook_seconds=1.0, webhook_warmup=0.5, e2e_creates=10, kyverno_objects=20, profile_seconds=1.0)


class SectionSkipped(Exception):
    """The section cannot run here; the message is the reason shown in the table."""


class ProbeError(RuntimeError):
    """An in-process probe failed; the message has its output."""


class Bench:
    def __init__(self, run: Run, trees: list[Tree], settings: Settings, scratch: Path) -> None:
        self.run = run
        self.trees = trees
        self.settings = settings
        self.scratch = scratch
        self.pods_file = scratch / "pods.json"
        self.pods_file.write_text(json.dumps({name: make() for name, make in workloads.POD_SIZES.items()}))
        self.failed: list[str] = []

    # -- helpers ---------------------------------------------------------------------------
    def probe(self, tree: Tree, *args: str) -> dict[str, Any]:
        from bench.processes import run_measured

        command = [sys.executable, str(PROBE), *args, "--policies", str(tree.policies)]
        done = run_measured(command, cwd=tree.path, env=tree.env(), timeout=600)
        line = next((l for l in done.stdout.splitlines() if l.startswith("CELGATE_PROBE ")), None)
        if done.returncode != 0 or line is None:
            raise ProbeError(f"probe {args[0]} on the {tree.label} tree exited {done.returncode}:\n{done.stderr[-3000:]}")
        data = json.loads(line.removeprefix("CELGATE_PROBE "))
        if Path(data["webhook"]) != (tree.path / "webhook").resolve():
            raise ProbeError(f"probe on the {tree.label} tree imported webhook from {data['webhook']}, "
                             f"not {tree.path / 'webhook'}: PYTHONPATH did not take effect")
        return data

    def figure(self, section: str, name: str, unit: str, lower_is_better: bool,
               values: dict[str, float | None], note: str = "") -> Figure:
        return self.run.add(Figure(section, name, unit, lower_is_better, values.get("current"),
                                   values.get("baseline"), note))

    def each_tree(self, action: Callable[[Tree], Any]) -> dict[str, Any]:
        return {tree.label: action(tree) for tree in self.trees}

    def labels_arg(self) -> str:
        return json.dumps(workloads.NAMESPACE_LABELS)

    # -- sections --------------------------------------------------------------------------
    def decide(self) -> None:
        s = self.settings
        data = self.each_tree(lambda tree: self.probe(
            tree, "decide", "--pods", str(self.pods_file), "--labels", self.labels_arg(),
            "--seconds", str(s.decide_seconds)))
        self.run.details["decide"] = data
        for pod, title in workloads.POD_SIZE_TITLES.items():
            denied = [label for label, d in data.items() if not d["pods"][pod]["allowed"]]
            note = f"NOT ALLOWED by {', '.join(denied)}: the Pod or the policies are wrong" if denied else ""
            if denied:
                self.failed.append(f"decide: {pod} Pod denied by {denied}")
            runs = ", ".join(f"{label} n={d['pods'][pod]['runs']}" for label, d in data.items())
            for stat in ("median", "p99"):
                self.figure("decide", f"decide() {title} {stat}", "µs", True,
                            {label: d["pods"][pod][f"{stat}_us"] for label, d in data.items()},
                            note or (runs if stat == "median" else ""))

    def load(self) -> None:
        s = self.settings
        loads = self.each_tree(lambda tree: [self.probe(tree, "load") for _ in range(s.load_runs)])
        pod_file = self.scratch / "one-pod.json"
        pod_file.write_text(json.dumps(workloads.typical_pod()))
        startups = self.each_tree(lambda tree: cli_throughput.startup(tree, tree.policies, pod_file, s.startup_runs))
        self.run.details["load"] = {"load_policy_set": loads, "celgate_test_startup": startups}
        self.figure("load", "load_policy_set(policies/pod-security)", "s", True,
                    {label: statistics.median(r["load_s"] for r in runs) for label, runs in loads.items()},
                    f"median of {s.load_runs} fresh processes; " + ", ".join(
                        f"{label} {runs[0]['policies']} policies" for label, runs in loads.items()))
        self.figure("load", "import webhook (policy loader and decide)", "s", True,
                    {label: statistics.median(r["import_s"] for r in runs) for label, runs in loads.items()})
        self.figure("load", "celgate test start-up (1 Pod, whole command)", "s", True,
                    {label: d["median_s"] for label, d in startups.items()}, f"median of {s.startup_runs} runs")
        self._startup = {label: d["median_s"] for label, d in startups.items()}

    def _startup_seconds(self, tree: Tree) -> float:
        cached = getattr(self, "_startup", {}).get(tree.label)
        if cached is not None:
            return cached
        pod_file = self.scratch / "one-pod.json"
        pod_file.write_text(json.dumps(workloads.typical_pod()))
        return cli_throughput.startup(tree, tree.policies, pod_file, self.settings.startup_runs)["median_s"]

    def cli(self) -> None:
        corpus = workloads.psa_corpus()
        dirs = workloads.psa_v135_dirs(corpus)
        stream = workloads.stream(self.settings.stream_size)
        stream_file = workloads.write_yaml_stream(stream.objects, self.scratch / "stream.yaml")
        startup = self.each_tree(self._startup_seconds)
        data: dict[str, Any] = {"startup_s": startup, "stream": {"size": len(stream.objects), "kinds": stream.kinds,
                                                                  "expected_denied": stream.expected_denied}}
        if dirs:
            data["psa"] = self.each_tree(lambda tree: cli_throughput.throughput(tree, tree.policies, dirs, startup[tree.label]))
        data["generated"] = self.each_tree(
            lambda tree: cli_throughput.throughput(tree, tree.policies, [stream_file], startup[tree.label]))
        self.run.details["cli"] = data
        if dirs:
            objects = next(iter(data["psa"].values()))["objects"]
            self._cli_rows(f"celgate test PSA v1.35 corpus ({objects} Pods)", data["psa"])
        else:
            self.figure("cli", "celgate test PSA v1.35 corpus", "objects/s", False, {},
                        f"skipped: no corpus at {corpus} (set CELGATE_PSA_CORPUS)")
        kinds = ", ".join(f"{n} {k}s" for k, n in stream.kinds.items())
        denied = {label: d["summary"].get("denied") for label, d in data["generated"].items()}
        wrong = {label: n for label, n in denied.items() if n != stream.expected_denied}
        if wrong:
            self.failed.append(f"cli: generated stream denied {wrong}, expected {stream.expected_denied}")
        self._cli_rows(f"celgate test stream ({len(stream.objects):,} objects)", data["generated"],
                       f"{kinds}; {stream.expected_denied} denied as generated"
                       + (f"; DENIED COUNT DIFFERS: {wrong}" if wrong else ""))

    def _cli_rows(self, title: str, data: dict[str, Any], note: str = "") -> None:
        self.figure("cli", f"{title}, whole run", "objects/s", False,
                    {label: d["objects_per_s"] for label, d in data.items()}, note)
        unmeasurable = [label for label, d in data.items() if d["net_objects_per_s"] is None]
        self.figure("cli", f"{title}, net of start-up", "objects/s", False,
                    {label: d["net_objects_per_s"] for label, d in data.items()},
                    "(whole run - median start-up of 1 Pod)" + (
                        f"; {', '.join(unmeasurable)}: start-up took longer than the whole run (a busy machine)"
                        if unmeasurable else ""))
        self.figure("cli", f"{title}, peak RSS", "MB", True, {label: d["max_rss_mb"] for label, d in data.items()})

    def webhook(self) -> None:
        s = self.settings

        def progress(tree: Tree, result: webhook_load.LevelResult) -> None:
            print(f"  webhook {tree.label}: {result.connections} conns {result.rps:.0f} req/s "
                  f"p99 {result.p99_ms:.1f} ms, {result.errors} errors", file=sys.stderr, flush=True)

        if load_generator.go_binary() is None and not load_generator.built():
            raise SectionSkipped("no Go toolchain to build the load generator (bench/loadgen)")
        data = webhook_load.run_trees(self.trees, list(s.webhook_levels), s.webhook_seconds, s.webhook_warmup,
                                      progress=progress)
        self.run.details["webhook"] = data
        for label, d in data.items():
            if not d["server_clean"]:
                self.failed.append(f"webhook: the {label} server did not exit cleanly: {d['log_problems'][:3]}")
        for index, connections in enumerate(s.webhook_levels):
            level = {label: d["levels"][index] for label, d in data.items()}
            prefix = f"webhook {connections:>3} conn{'s' if connections > 1 else ''}"
            self.figure("webhook", f"{prefix} requests/s", "req/s", False, {k: v["rps"] for k, v in level.items()},
                        f"{s.webhook_seconds:g} s after {s.webhook_warmup:g} s warm-up, 4-container Pod")
            for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                few = any(v["requests"] < 1000 for v in level.values()) and key == "p999_ms"
                self.figure("webhook", f"{prefix} {name}", "ms", True, {k: v[key] for k, v in level.items()},
                            "under 1000 samples: the maximum" if few else "")
            self.figure("webhook", f"{prefix} server CPU per request", "ms", True,
                        {k: v["cpu_ms_per_request"] for k, v in level.items()})
            self.figure("webhook", f"{prefix} server RSS", "MB", True, {k: v["rss_mb"] for k, v in level.items()},
                        "serve process + workers")
            errors = {k: float(v["errors"]) for k, v in level.items()}
            first = next((v["first_bad"] for v in level.values() if v["errors"] and v["first_bad"]), "")
            self.figure("webhook", f"{prefix} errors", "count", True, errors,
                        ("first: " + first[:80]) if first else "transport, timeouts, non-200, failed closed")

    def e2e(self) -> None:
        try:
            data = e2e_latency.run(self.trees, self.settings.e2e_creates)
        except Exception as error:  # noqa: BLE001 - no control plane here is a skip, with the reason
            name = type(error).__name__
            if "ControlPlane" in name or "Binaries" in name or isinstance(error, (FileNotFoundError, ImportError)):
                raise SectionSkipped(f"no control plane ({name}: {str(error)[:120]})") from error
            raise
        self.run.details["e2e"] = data
        modes = data["modes"]
        shared = "one apiserver, same for both trees"
        self.figure("e2e", "Pod create, no policy, median", "ms", True, {"current": modes["none"]["median_ms"]}, shared)
        self.figure("e2e", "Pod create, built-in VAP (same policies), median", "ms", True,
                    {"current": modes["native"]["median_ms"]}, shared)
        for stat in ("median_ms", "p99_ms"):
            self.figure("e2e", f"Pod create, celgate webhook, {stat[:-3].replace('median', 'median')}", "ms", True,
                        {t.label: modes[f"webhook-{t.label}"][stat] for t in self.trees},
                        f"{data['creates']} creates per mode, round-robin" if stat == "median_ms" else "")
        self.figure("e2e", "Pod create, celgate ÷ built-in VAP (median)", "ratio", True,
                    {t.label: modes[f"webhook-{t.label}"]["ratio_to_native"] for t in self.trees}, "target ≤ 1.3")

    def kyverno(self) -> None:
        binary = kyverno.binary()
        if binary is None:
            raise SectionSkipped(kyverno.unavailable_reason())
        data = kyverno.compare(binary, self.trees, self.settings.kyverno_objects, self.scratch / "kyverno")
        self.run.details["kyverno"] = data
        note = data["note"]
        self.figure("kyverno", f"kyverno apply ({data['objects']} objects, {data['policies']})", "s", True,
                    {"current": data["kyverno"]["seconds"]}, f"Kyverno CLI {data['kyverno']['version']}; {note}")
        self.figure("kyverno", "kyverno apply peak RSS", "MB", True, {"current": data["kyverno"]["max_rss_mb"]})
        self.figure("kyverno", "celgate test (same VAPs and objects)", "s", True,
                    {label: d["seconds"] for label, d in data["celgate"].items()})
        self.figure("kyverno", "celgate test peak RSS", "MB", True,
                    {label: d["max_rss_mb"] for label, d in data["celgate"].items()})
        self.figure("kyverno", "kyverno apply ÷ celgate test (time)", "ratio", False,
                    {label: data["kyverno"]["seconds"] / d["seconds"] for label, d in data["celgate"].items()},
                    "how many times faster celgate is")

    def profile(self) -> None:
        from bench import profiling

        profiling.ensure_pyinstrument()
        data = self.each_tree(lambda tree: self.probe(
            tree, "profile", "--pods", str(self.pods_file), "--labels", self.labels_arg(), "--pod", "typical",
            "--seconds", str(self.settings.profile_seconds)))
        self.run.profile = data


def _parse_sections(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return chosen


def default_out(started: datetime) -> Path:
    return CACHE / "results" / f"{started.strftime('%Y-%m-%dT%H%M%S')}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=_parse_sections, default=list(SECTIONS),
                        help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="short durations and small inputs: a smoke test")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help=f"baseline revision (default {default_baseline()}, from bench/BASELINE)")
    parser.add_argument("--no-baseline", action="store_true", help="measure the current tree only")
    parser.add_argument("--profile", action="store_true",
                        help="also profile decide() of the 4-container Pod (pyinstrument, installed on demand)")
    parser.add_argument("--out", type=Path, help="JSON file (default ~/.cache/celgate/bench/results/<time>.json)")
    args = parser.parse_args(argv)
    if args.no_baseline and args.baseline:
        parser.error("--baseline and --no-baseline exclude each other")

    started = datetime.now(timezone.utc)
    began = time.monotonic()
    trees = [current_tree()]
    if not args.no_baseline:
        try:
            trees.append(baseline_tree(args.baseline or default_baseline()))
        except TreeError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
    sections = [s for s in SECTIONS if s in args.only]
    if "kyverno" in sections:
        kyverno.start_build_in_background()  # long: started first, used when done (this run or a later one)
    run = Run(command=" ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
              started=started.isoformat(timespec="seconds"), machine=machine.describe(),
              trees={t.label: {"revision": t.revision, "path": str(t.path)} for t in trees},
              sections=sections + (["profile"] if args.profile else []), quick=args.quick)
    out = args.out or default_out(started)
    with tempfile.TemporaryDirectory(prefix="celgate-bench-") as scratch:
        bench = Bench(run, trees, QUICK if args.quick else FULL, Path(scratch))
        for section in run.sections:
            print(f"bench: {section} ...", file=sys.stderr, flush=True)
            section_began = time.monotonic()
            try:
                getattr(bench, section)()
            except SectionSkipped as skipped:
                bench.figure(section, section, "-", True, {}, f"skipped: {skipped}")
            except Exception as error:  # noqa: BLE001 - one broken section must not lose the others' figures
                bench.failed.append(f"{section}: {type(error).__name__}: {error}")
                bench.figure(section, section, "-", True, {}, f"FAILED: {type(error).__name__}: {str(error)[:150]}")
                traceback.print_exc(file=sys.stderr)
            run.details.setdefault("section_seconds", {})[section] = round(time.monotonic() - section_began, 1)
    run.load_after = [round(v, 2) for v in machine.load_average()]
    run.seconds = round(time.monotonic() - began, 1)
    run.details["failures"] = bench.failed
    run.write(out)
    print(render(run), end="")
    if run.profile:
        from bench import profiling

        print(profiling.render(run.profile), end="")
    print(f"\n{run.seconds:.0f} s; JSON: {out}")
    for failure in bench.failed:
        print(f"FAILED: {failure}")
    return 1 if bench.failed else 0
