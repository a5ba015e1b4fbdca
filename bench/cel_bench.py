"""Compile and evaluation cost of Pod Security expressions over a 4-container Pod.

Run: python bench/cel_bench.py [--runs N]   (not a test; prints a table)

Compile time: each expression compiled once in each of several fresh environments (the
environment caches compiled expressions, so a second compile in the same one would measure the
cache). Evaluation time: the activation is converted once (as a policy does for all its
validations) and each expression evaluated ``--runs`` times; the policy path (what a policy pays:
the cached cost bound plus cel-cpp) is shown beside the engine alone and the full data-walk estimate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Callable

from cel_expr_python import cel

from webhook.cel.cost import largest_size
from webhook.cel import CelEnvironment, CostBudget
from webhook.cel.values import to_cel

POD = json.loads((Path(__file__).parent / "fixtures/pod-4-containers.json").read_text())

_ALL_CONTAINERS = (
    "(object.spec.containers + object.spec.?initContainers.orValue([])"
    " + object.spec.?ephemeralContainers.orValue([]))"
)
EXPRESSIONS: dict[str, str] = {
    "privileged": f"{_ALL_CONTAINERS}.all(c, !c.?securityContext.?privileged.orValue(false))",
    "capabilities drop ALL": (
        f"{_ALL_CONTAINERS}.all(c, c.?securityContext.?capabilities.?drop.orValue([]).exists(d, d == 'ALL'))"
    ),
    "capabilities add": (
        f"{_ALL_CONTAINERS}.all(c, c.?securityContext.?capabilities.?add.orValue([])"
        ".all(a, a in ['NET_BIND_SERVICE']))"
    ),
    "runAsNonRoot": (
        "object.spec.?securityContext.?runAsNonRoot.orValue(false)"
        f" ? {_ALL_CONTAINERS}.all(c, c.?securityContext.?runAsNonRoot.orValue(true))"
        f" : {_ALL_CONTAINERS}.all(c, c.?securityContext.?runAsNonRoot.orValue(false))"
    ),
    "hostPath volumes": "!object.spec.?volumes.orValue([]).exists(v, has(v.hostPath))",
    "seccomp": (
        "object.spec.?securityContext.?seccompProfile.?type.orValue('') in ['RuntimeDefault', 'Localhost']"
        f" || {_ALL_CONTAINERS}.all(c, c.?securityContext.?seccompProfile.?type.orValue('')"
        " in ['RuntimeDefault', 'Localhost'])"
    ),
    "host namespaces": (
        "!object.spec.?hostNetwork.orValue(false) && !object.spec.?hostPID.orValue(false)"
        " && !object.spec.?hostIPC.orValue(false)"
    ),
}


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e6:9.1f} µs   p99 {p99 * 1e6:9.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="evaluations per expression (default: %(default)s)")
    parser.add_argument("--environments", type=int, default=20, help="fresh environments for compile timing")
    args = parser.parse_args()
    variables = {"object": cel.Type.DYN}

    env_samples: list[float] = []
    environments = []
    for _ in range(args.environments):
        started = time.perf_counter()
        environments.append(CelEnvironment(variables))
        env_samples.append(time.perf_counter() - started)
    print(f"Pod: {len(POD['spec']['containers'])} containers + {len(POD['spec']['initContainers'])} init container,"
          f" {len(json.dumps(POD))} bytes of JSON")
    print(f"{'environment construction':28} {summary(env_samples)}   (n={args.environments})")

    print("\ncompile (fresh environment each time)")
    for name, expression in EXPRESSIONS.items():
        samples = [timed(lambda e=env: e.compile(expression), 1)[0] for env in environments]
        print(f"  {name:26} {summary(samples)}   (n={len(samples)})")

    env = environments[0]
    probe = env.compile("has(object.metadata)").program
    to_cel_samples = timed(lambda: to_cel(POD), 500)
    data = {"object": to_cel(POD)}
    # cel.Activation converts the Python data when first used, so time creation + first use.
    first_use = timed(lambda: probe.eval(env.activation(data)), 500)
    activation = env.activation(data)
    warm = timed(lambda: probe.eval(activation), 500)
    conversion = [max(0.0, a - statistics.median(warm)) for a in first_use]
    print("\nactivation conversion, once per request (n=500)")
    print(f"  {'to_cel(pod)':26} {summary(to_cel_samples)}")
    print(f"  {'cel.Activation + first use':26} {summary(conversion)}   (minus a warm evaluation)")

    hint = largest_size(POD)  # once per request in the policy layer
    print(f"\nevaluate on the prebuilt activation (n={args.runs} each)")
    print(f"  {'':26} {'policy path: cached bound + engine':^41}   {'engine alone':^41}   {'full data walk estimate':^41}")
    for name, expression in EXPRESSIONS.items():
        compiled = env.compile(expression)
        result = compiled.evaluate(activation, sizes={"object": POD}, size_hint=hint)
        total = timed(lambda: compiled.evaluate(activation, budget=CostBudget(), sizes={"object": POD}, size_hint=hint), args.runs)
        engine = timed(lambda: compiled.program.eval(activation), args.runs)
        estimate = timed(lambda: compiled.estimate_cost({"object": POD}), args.runs)
        print(f"  {name:26} {summary(total)}   {summary(engine)}   {summary(estimate)}   -> {result}")
    print(f"  (largest_size(pod), once per request: {summary(timed(lambda: largest_size(POD), 500))})")


if __name__ == "__main__":
    main()
