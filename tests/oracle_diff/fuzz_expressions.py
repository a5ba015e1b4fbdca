"""A seeded generator of well-typed CEL expressions over generated objects (fuzz_objects.py).

Each production knows the CEL type it yields, so expressions type-check; what they read from
``object``, ``params`` or ``variables`` is dyn, so a wrong guess about the data is a runtime
error, which both evaluators must report alike. Left out on purpose (documented differences,
webhook/cel/compat.py): durations/timestamps crossing into Python (D1, D5, D12), maps mixing
bool and int keys (D2), uint-typed format arguments (D3), selecting a field of a list or scalar
outside has() (D4), time zones (D6), optionals nested in results (D7), getMilliseconds (D8),
optional.unwrap (D9), optional index literals on dyn (D10), lenient string conversions (D11),
int(duration) (D13), sortBy and uint list elements (D14), transformMap/transformMapEntry (D15).
"""

from __future__ import annotations

import json
import random
from typing import Callable

from fuzz_objects import CIDRS, INT64_MAX, INT64_MIN, IPS, LABEL_KEYS, NAMES, QUANTITIES, URLS, VERSIONS

Production = Callable[[int], str]

POD_SPEC = {
    "Pod": "object.spec",
    "Deployment": "object.spec.template.spec",
    "CronJob": "object.spec.jobTemplate.spec.template.spec",
}
ANY_POD_SPEC = (
    "(object.kind == 'Pod' ? object.spec : object.kind == 'CronJob'"
    " ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)"
)
REGEXES = ["^[a-z]+$", "[0-9]", "^(nginx|busybox)(:.*)?$", "a.c", "^$", "(?i)web", "[[:alpha:]]+", "\\d{2,}", "x*"]
# isInteger()/asInteger() answer by apimachinery's representation in cel-go (compat.py D19):
# these agree, being integral int64 amounts (or not integral at all).
INTEGRAL_QUANTITIES = ["1", "0", "-1", "2k", "1Gi", "512Mi", "123456789012345678", "1e3", "100m", "0.5", "bogus"]
FORMATS = ["dns1123Label", "dns1123Subdomain", "dns1035Label", "qualifiedName", "dns1123LabelPrefix",
           "labelValue", "uri", "uuid", "byte", "date", "datetime"]


def quote(text: str) -> str:
    """A CEL string literal."""
    return json.dumps(text, ensure_ascii=False)


class ExpressionGenerator:
    """``generate(type)`` yields a CEL expression of that type; types are ``bool``, ``int``,
    ``uint``, ``double``, ``string``, ``list_int``, ``list_string``, ``map``, ``containers``,
    ``container``, ``quantity``, ``optional_string``."""

    def __init__(self, rng: random.Random, kind: str, max_depth: int = 4, policy: bool = False) -> None:
        self.rng = rng
        self.max_depth = max_depth
        self.policy = policy  # in a policy, variables are the policy's own (see fuzz_policies.py)
        self.spec = POD_SPEC[kind] if rng.random() < 0.85 else ANY_POD_SPEC
        self.scope: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}  # name -> type, readable as variables.<name>
        self.no_params = False  # a policy without paramKind: params is undeclared
        self._counter = 0

    # -- plumbing ---------------------------------------------------------------------------
    def generate(self, type_: str, depth: int | None = None) -> str:
        depth = self.max_depth if depth is None else depth
        for _ in range(20):
            productions = self._productions(type_, depth)
            weights = [weight for weight, _ in productions]
            _, production = self.rng.choices(productions, weights=weights)[0]
            expression = production(depth - 1)
            if not (self.no_params and "params" in expression):
                return expression
        return expression

    def _fresh(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}{self._counter}"

    def _in_scope(self, type_: str) -> list[str]:
        return [name for name, t in self.scope if t == type_]

    def _with(self, bindings: list[tuple[str, str]], body_type: str, depth: int) -> str:
        self.scope.extend(bindings)
        try:
            return self.generate(body_type, depth)
        finally:
            del self.scope[-len(bindings):]

    def _productions(self, type_: str, depth: int) -> list[tuple[float, Production]]:
        leaves = getattr(self, f"_leaf_{type_}")()
        scoped = [(4.0, (lambda name: lambda d: name)(name)) for name in self._in_scope(type_)]
        variables = [(2.0, (lambda name: lambda d: f"variables.{name}")(name)) for name, t in self.variables.items() if t == type_]
        fields = [(3.0, (lambda e: lambda d: e)(e)) for c in self._in_scope("container") for e in self._container_fields(type_, c)]
        if depth <= 0:
            return leaves + scoped + variables + fields
        return leaves + scoped + variables + fields + getattr(self, f"_node_{type_}")()

    def g(self, type_: str, depth: int) -> str:
        return self.generate(type_, depth)

    # -- bool -------------------------------------------------------------------------------
    def _leaf_bool(self) -> list[tuple[float, Production]]:
        r = self.rng
        s = self.spec
        presence = [
            "object.metadata.labels", "object.metadata.labels.app", "object.metadata.annotations",
            f"{s}.hostNetwork", f"{s}.hostPID", f"{s}.securityContext", f"{s}.securityContext.runAsNonRoot",
            f"{s}.initContainers", f"{s}.nodeSelector", f"{s}.priority", "object.spec.replicas",
            "object.metadata.name.x", "object.spec.replicas.x", f"{s}.hostNetwork.x",
            "params.spec", "params.spec.maxReplicas", "namespaceObject.metadata.labels",
            "object.spec.template.spec.hostNetwork", "oldObject.metadata", "oldObject.spec.replicas",
        ]
        return [
            (1.0, lambda d: r.choice(["true", "false"])),
            (3.0, lambda d: f"has({r.choice(presence)})"),
            (1.0, lambda d: f"isQuantity({quote(r.choice(QUANTITIES))})"),
            (1.0, lambda d: f"isSemver({quote(r.choice(VERSIONS))}{r.choice(['', ', true', ', false'])})"),
            (1.0, lambda d: f"isIP({quote(r.choice(IPS))})"),
            (1.0, lambda d: f"isCIDR({quote(r.choice(CIDRS))})"),
            (1.0, lambda d: f"isURL({quote(r.choice(URLS))})"),
            (1.0, lambda d: f"ip.isCanonical({quote(r.choice(IPS))})"),
            (1.0, lambda d: f"object.?metadata.?labels[?{quote(r.choice(LABEL_KEYS))}].hasValue()"),
            (1.0, lambda d: f"{s}.?hostNetwork.orValue(false) == true"),
            (0.5, lambda d: f"request.operation == {quote(r.choice(['CREATE', 'UPDATE']))}"),
            (0.5, lambda d: f"bool(request.dryRun)"),
            (0.5, lambda d: "authorizer.group('apps').resource('deployments').namespace('default').check('create').allowed()"),
            (0.3, lambda d: "authorizer.requestResource.check('update').errored()"),
            (0.3, lambda d: "authorizer.path('/healthz').check('get').allowed()"),
            (0.3, lambda d: "authorizer.serviceAccount('default', 'builder').group('').resource('pods').name('x').check('get').reason() == ''"),
        ]

    def _node_bool(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        compare = ["==", "!=", "<", "<=", ">", ">="]
        return [
            (3.0, lambda d: f"({g('int', d)} {r.choice(compare)} {g('int', d)})"),
            (1.0, lambda d: f"({g('uint', d)} {r.choice(compare)} {g('uint', d)})"),
            (1.0, lambda d: f"({g('double', d)} {r.choice(compare)} {g('double', d)})"),
            (2.0, lambda d: f"({g('string', d)} {r.choice(compare)} {g('string', d)})"),
            (2.0, lambda d: f"{g('string', d)}.{r.choice(['startsWith', 'endsWith', 'contains'])}({g('string', d)})"),
            (1.0, lambda d: f"{g('string', d)}.matches({quote(r.choice(REGEXES))})"),
            (1.0, lambda d: f"({g('string', d)} in {g('list_string', d)})"),
            (1.0, lambda d: f"({g('int', d)} in {g('list_int', d)})"),
            (1.0, lambda d: f"({quote(r.choice(LABEL_KEYS))} in {g('map', d)})"),
            (4.0, lambda d: f"({g('bool', d)} && {g('bool', d)})"),
            (4.0, lambda d: f"({g('bool', d)} || {g('bool', d)})"),
            (1.0, lambda d: f"!({g('bool', d)})"),
            (1.5, lambda d: f"({g('bool', d)} ? {g('bool', d)} : {g('bool', d)})"),
            (5.0, lambda d: self._macro_bool(d)),
            (1.0, lambda d: self._known_bug_shape(d)),
            (1.0, lambda d: f"quantity({quote(r.choice(QUANTITIES))}).{r.choice(['isLessThan', 'isGreaterThan'])}({g('quantity', d)})"),
            # Only quantities apimachinery stores as integers (compat.py D19).
            (1.0, lambda d: f"quantity({quote(r.choice(INTEGRAL_QUANTITIES))}).isInteger()"),
            (1.0, lambda d: f"semver({quote(r.choice(VERSIONS))}{r.choice(['', ', true'])}).{r.choice(['isLessThan', 'isGreaterThan'])}(semver({quote(r.choice(VERSIONS))}))"),
            (1.0, lambda d: f"ip({quote(r.choice(IPS))}).{r.choice(['isLoopback', 'isUnspecified', 'isGlobalUnicast', 'isLinkLocalUnicast', 'isLinkLocalMulticast'])}()"),
            (1.0, lambda d: f"cidr({quote(r.choice(CIDRS))}).containsIP({r.choice([quote(r.choice(IPS)), 'ip(' + quote(r.choice(IPS)) + ')'])})"),
            (0.5, lambda d: f"cidr({quote(r.choice(CIDRS))}).containsCIDR({quote(r.choice(CIDRS))})"),
            (1.0, lambda d: f"sets.{r.choice(['contains', 'equivalent', 'intersects'])}({g('list_string', d)}, {g('list_string', d)})"),
            (1.0, lambda d: f"{g('list_int', d)}.isSorted()"),
            (1.0, lambda d: f"format.{r.choice(FORMATS)}().validate({g('string', d)}).hasValue()"),
            (0.5, lambda d: f"format.named({quote(r.choice(FORMATS + ['nope']))}).hasValue()"),
            (1.0, lambda d: f"{g('optional_string', d)}.hasValue()"),
            (0.5, lambda d: f"optional.of({g('bool', d)}).orValue(false)"),
        ]

    def _literal_optional(self, d: int) -> str:
        """An optional for an optional literal entry; not an optional index of a dyn value,
        on which cel-go panics (compat.py D10)."""
        # not optional.none(): its free type parameter binds differently in cel-go (compat.py D23)
        return self.rng.choice(["object.?metadata.?namespace", f"optional.of({self.g('string', d)})",
                                f"{self.spec}.?serviceAccountName"])

    def _macro_bool(self, d: int) -> str:
        r = self.rng
        source_type = r.choice(["containers", "containers", "list_int", "list_string", "map"])
        source = self.g(source_type, d)
        element = {"containers": "container", "list_int": "int", "list_string": "string", "map": "string"}[source_type]
        if r.random() < 0.3 and source_type != "map":
            i, v = self._fresh("i"), self._fresh("v")
            macro = r.choice(["all", "exists", "existsOne"])
            return f"{source}.{macro}({i}, {v}, {self._with([(i, 'int'), (v, element)], 'bool', d)})"
        if r.random() < 0.2 and source_type == "map":
            k, v = self._fresh("k"), self._fresh("v")
            macro = r.choice(["all", "exists", "existsOne"])
            return f"{source}.{macro}({k}, {v}, {self._with([(k, 'string'), (v, 'string')], 'bool', d)})"
        x = self._fresh("x")
        macro = r.choice(["all", "exists", "exists_one"])
        return f"{source}.{macro}({x}, {self._with([(x, element)], 'bool', d)})"

    def _known_bug_shape(self, d: int) -> str:
        """A short-circuiting comprehension followed by has() (cel.bind after a comprehension)."""
        r = self.rng
        x = self._fresh("k")
        stop = r.choice([f"{['Deployment', 'ReplicaSet']}.all({x}, object.kind != {x})",
                         f"[1, 2].exists({x}, {x} == 1)", f"[1, 2].all({x}, {x} == 2)"])
        return f"({stop} {r.choice(['||', '&&'])} {r.choice(['!', ''])}has({self.spec}.{r.choice(['hostNetwork', 'hostPID', 'securityContext'])}))"

    # -- numbers ----------------------------------------------------------------------------
    def _leaf_int(self) -> list[tuple[float, Production]]:
        r, s = self.rng, self.spec
        edges = [0, 1, -1, 2, 10, 2147483647, INT64_MAX, -INT64_MAX, 4611686018427387904, 3037000500]
        return [
            (4.0, lambda d: str(r.choice(edges))),
            (0.5, lambda d: str(INT64_MIN)),
            (1.0, lambda d: f"size({s}.containers)"),
            (1.0, lambda d: r.choice(["object.spec.replicas", f"{s}.priority", "params.spec.maxReplicas",
                                      "object.metadata.generation", "object.spec.successfulJobsHistoryLimit"])),
            (0.5, lambda d: f"{s}.?priority.orValue({r.choice(edges)})"),
            (0.5, lambda d: f"quantity({quote(r.choice(INTEGRAL_QUANTITIES))}).asInteger()"),
            # sign is a global function only (compat.py D18).
            (0.5, lambda d: f"sign(quantity({quote(r.choice(QUANTITIES))}))"),
            (0.5, lambda d: f"semver({quote(r.choice(VERSIONS))}).{r.choice(['major', 'minor', 'patch'])}()"),
            (0.5, lambda d: f"ip({quote(r.choice(IPS))}).family()"),
            (0.5, lambda d: f"cidr({quote(r.choice(CIDRS))}).prefixLength()"),
        ]

    def _node_int(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (3.0, lambda d: f"({g('int', d)} {r.choice(['+', '-', '*', '/', '%'])} {g('int', d)})"),
            (0.5, lambda d: f"-({g('int', d)})"),
            (2.0, lambda d: f"size({g(r.choice(['string', 'list_int', 'list_string', 'map', 'containers']), d)})"),
            (1.0, lambda d: f"{g('list_int', d)}[{g('int', d)}]"),
            (1.0, lambda d: f"{g('string', d)}.{r.choice(['indexOf', 'lastIndexOf'])}({g('string', d)}{r.choice(['', ', ' + g('int', d)])})"),
            (1.0, lambda d: f"{g('list_int', d)}.{r.choice(['sum', 'min', 'max'])}()"),
            (0.5, lambda d: f"{g('list_string', d)}.{r.choice(['indexOf', 'lastIndexOf'])}({g('string', d)})"),
            (1.0, lambda d: f"int({g(r.choice(['double', 'uint', 'string']), d)})"),
            (1.0, lambda d: f"({g('bool', d)} ? {g('int', d)} : {g('int', d)})"),
            (1.0, lambda d: f"{g('quantity', d)}.compareTo({g('quantity', d)})"),
            (0.5, lambda d: f"semver({quote(r.choice(VERSIONS))}).compareTo(semver({quote(r.choice(VERSIONS))}))"),
            (1.0, lambda d: self._filter_size(d)),
        ]

    def _filter_size(self, d: int) -> str:
        x = self._fresh("x")
        return f"{self.g('containers', d)}.filter({x}, {self._with([(x, 'container')], 'bool', d)}).size()"

    def _leaf_uint(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [(1.0, lambda d: r.choice(["0u", "1u", "2u", "18446744073709551615u", "9223372036854775808u"]))]

    def _node_uint(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (2.0, lambda d: f"({g('uint', d)} {r.choice(['+', '-', '*', '/', '%'])} {g('uint', d)})"),
            (1.0, lambda d: f"uint({g(r.choice(['int', 'double']), d)})"),
        ]

    def _leaf_double(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [
            (2.0, lambda d: r.choice(["0.0", "0.5", "-0.0", "1e308", "-1e308", "2.5", "1e-300", "9.223372036854776e18"])),
            (0.5, lambda d: "params.spec.ratio"),
            (0.5, lambda d: f"quantity({quote(r.choice(QUANTITIES))}).asApproximateFloat()"),
        ]

    def _node_double(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (2.0, lambda d: f"({g('double', d)} {r.choice(['+', '-', '*', '/'])} {g('double', d)})"),
            (1.0, lambda d: f"double({g(r.choice(['int', 'uint']), d)})"),
        ]

    # -- strings ----------------------------------------------------------------------------
    def _leaf_string(self) -> list[tuple[float, Production]]:
        r, s = self.rng, self.spec
        return [
            (3.0, lambda d: quote(r.choice(NAMES + ["a,b,c", "  pad  ", "ünïcødé", "%", "registry.example.com/x"]))),
            (2.0, lambda d: r.choice(["object.metadata.name", "object.kind", "object.metadata.namespace", "object.apiVersion",
                                      f"{s}.serviceAccountName", "params.spec.maxCpu"])),
            # request and namespaceObject are typed in kube-apiserver, dyn here (compat.py D20).
            (1.0, lambda d: f"string({r.choice(['request.userInfo.username', 'request.operation', 'namespaceObject.metadata.name', 'request.namespace'])})"),
            (1.0, lambda d: f"object.metadata.labels[{quote(r.choice(LABEL_KEYS))}]"),
            (1.0, lambda d: f"object.metadata.?labels[?{quote(r.choice(LABEL_KEYS))}].orValue({quote(r.choice(NAMES))})"),
            (0.5, lambda d: f"url({quote(r.choice(URLS))}).{r.choice(['getScheme', 'getHost', 'getHostname', 'getPort', 'getEscapedPath'])}()"),
            (0.5, lambda d: f"string(ip({quote(r.choice(IPS))}))"),
            # Not string(cidr): it compiles unchecked here, and so does the rest (compat.py D25);
            # for the same reason no cross-type numeric comparisons (1 < 1.5).
            (0.5, lambda d: f"string(cidr({quote(r.choice(CIDRS))}).ip())"),
        ]

    def _node_string(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        fmt = r.choice(["%s", "%s-%s", "%d items", "%.2f", "%e", "%x", "%o", "%b", "%X", "%5s", "%%"])
        return [
            (3.0, lambda d: f"({g('string', d)} + {g('string', d)})"),
            (2.0, lambda d: f"{g('string', d)}.{r.choice(['lowerAscii', 'upperAscii', 'trim'])}()"),
            (1.0, lambda d: f"{g('string', d)}.replace({g('string', d)}, {g('string', d)}{r.choice(['', ', 1', ', -1', ', 0'])})"),
            (1.0, lambda d: f"{g('string', d)}.substring({g('int', d)}{r.choice(['', ', ' + g('int', d)])})"),
            (1.0, lambda d: f"{g('string', d)}.charAt({g('int', d)})"),
            (1.0, lambda d: f"{g('list_string', d)}.join({r.choice(['', quote(','), quote(' - ')])})"),
            (2.0, lambda d: self._format(d)),
            # not string(double): non-finite doubles print differently (compat.py D12)
            (1.0, lambda d: f"string({g(r.choice(['int', 'uint', 'bool', 'string']), d)})"),
            (1.0, lambda d: f"({g('bool', d)} ? {g('string', d)} : {g('string', d)})"),
            (1.0, lambda d: f"{g('optional_string', d)}.orValue({g('string', d)})"),
            (1.0, lambda d: f"{g('string', d)}.find({quote(r.choice(REGEXES))})"),
            (0.5, lambda d: f"strings.quote({g('string', d)})"),
            (1.0, lambda d: f"{g('list_string', d)}[{g('int', d)}]"),
        ]

    def _format(self, d: int) -> str:
        r, g = self.rng, self.g
        clause = r.choice([("%s", "string"), ("%s", "list_string"), ("%s", "int"), ("%s", "bool"), ("%d", "int"),
                           ("%.3f", "double"), ("%e", "double"), ("%x", "int"), ("%x", "string"), ("%o", "int"),
                           ("%b", "int"), ("%X", "string"), ("%s", "map"), ("%s", "double"), ("%f", "int")])
        text, arg_type = clause
        prefix = r.choice(["", "v=", "%% "])
        return f"{quote(prefix + text)}.format([{g(arg_type, d)}])"

    def _leaf_optional_string(self) -> list[tuple[float, Production]]:
        r, s = self.rng, self.spec
        return [
            (1.0, lambda d: f"object.?metadata.?labels[?{quote(r.choice(LABEL_KEYS))}]"),
            (1.0, lambda d: f"{s}.?serviceAccountName"),
            (0.5, lambda d: f"object.?metadata.?namespace"),
            (0.5, lambda d: "optional.none()"),
            (0.5, lambda d: f"params.?spec.?maxCpu"),
        ]

    def _node_optional_string(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (1.0, lambda d: f"optional.of({g('string', d)})"),
            (1.0, lambda d: f"optional.ofNonZeroValue({g('string', d)})"),
            (1.0, lambda d: f"{g('optional_string', d)}.or({g('optional_string', d)})"),
            (1.0, lambda d: f"{g('list_string', d)}[?{g('int', d)}]"),
            (0.5, lambda d: f"{g('map', d)}[?{g('string', d)}]"),
        ]

    # -- collections ------------------------------------------------------------------------
    def _leaf_list_int(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [
            # No bare []: cel-go types [].sort() as list(int) (compat.py D23) and folds `x in []` to
            # false without evaluating x (D24); lists.range(0) is an empty list(int) in both.
            (2.0, lambda d: r.choice(["lists.range(0)", "[1, 2, 3]", "[3, 1, 2]", "[0]", f"[{INT64_MAX}, 1]", "[2, 2, 1]", f"[{INT64_MIN}, -1]"])),
            (1.0, lambda d: f"lists.range({r.choice([0, 1, 3, 10])})"),
        ]

    def _node_list_int(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (2.0, lambda d: self._map_macro("int", d)),
            (1.0, lambda d: self._filter_macro("list_int", "int", d)),
            (1.0, lambda d: f"({g('list_int', d)} + {g('list_int', d)})"),
            (1.0, lambda d: f"{g('list_int', d)}.sort()"),
            # distinct, slice and flatten are list(dyn) here, list(T) in cel-go (compat.py D22):
            # typed again with map() so no checker sees the difference.
            (1.0, lambda d: f"{g('list_int', d)}.distinct().map(e, int(e))"),
            (1.0, lambda d: f"{g('list_int', d)}.slice({g('int', d)}, {g('int', d)}).map(e, int(e))"),
            (0.5, lambda d: f"[{g('list_int', d)}, {g('list_int', d)}].flatten().map(e, int(e))"),
            (1.0, lambda d: f"[int({g('int', d)}), int({g('int', d)})]"),
        ]

    def _leaf_list_string(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [
            (2.0, lambda d: r.choice(["['a'].filter(s, s == '')", "['a', 'b']", "['b', 'a', 'b']", "['app']", "['registry.example.com', 'ghcr.io']"])),
            (1.0, lambda d: r.choice(["params.spec.allowedRegistries", "params.spec.requiredLabels", "params.spec.allowedCidrs",
                                      "request.userInfo.groups.map(g, string(g))"])),  # typed in kube-apiserver (D20)
        ]

    def _node_list_string(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            (2.0, lambda d: self._map_macro("string", d)),
            (1.0, lambda d: self._filter_macro("list_string", "string", d)),
            (1.0, lambda d: f"{g('string', d)}.split({quote(r.choice([',', '/', '', ':']))}{r.choice(['', ', 2', ', -1', ', 0'])})"),
            (1.0, lambda d: f"{g('list_string', d)}.sort()"),
            (1.0, lambda d: f"{g('list_string', d)}.distinct().map(e, string(e))"),
            (1.0, lambda d: f"({g('list_string', d)} + {g('list_string', d)})"),
            (1.0, lambda d: f"{g('string', d)}.findAll({quote(r.choice(REGEXES))}{r.choice(['', ', 1', ', -1'])})"),
            (1.0, lambda d: self._transform_list(d)),
            (1.0, lambda d: f"[string({g('string', d)}), string({g('string', d)})]"),
            # Not an optional index as the element: cel-go panics on it (compat.py D10).
            (0.5, lambda d: f"[?{self._literal_optional(d)}, string({g('string', d)})]"),
            # cel-go iterates a Go map in random order: only an order-free result is comparable.
            (0.5, lambda d: f"{g('map', d)}.map(k, k).sort()"),
        ]

    def _map_macro(self, element_type: str, d: int) -> str:
        r = self.rng
        source_type = r.choice(["containers", "list_int", "list_string"])
        source = self.g(source_type, d)
        element = {"containers": "container", "list_int": "int", "list_string": "string"}[source_type]
        x = self._fresh("x")
        body = self._with([(x, element)], element_type, d)
        if r.random() < 0.3:
            return f"{source}.map({x}, {self._with([(x, element)], 'bool', d)}, {body})"
        return f"{source}.map({x}, {body})"

    def _filter_macro(self, list_type: str, element: str, d: int) -> str:
        x = self._fresh("x")
        return f"{self.g(list_type, d)}.filter({x}, {self._with([(x, element)], 'bool', d)})"

    def _transform_list(self, d: int) -> str:
        r = self.rng
        i, v = self._fresh("i"), self._fresh("v")
        body = self._with([(i, "int"), (v, "container")], "string", d)
        source = self.g("containers", d)
        if r.random() < 0.4:
            return f"{source}.transformList({i}, {v}, {self._with([(i, 'int'), (v, 'container')], 'bool', d)}, {body})"
        return f"{source}.transformList({i}, {v}, {body})"

    def _leaf_map(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [
            (2.0, lambda d: r.choice(["object.metadata.labels", "object.metadata.annotations", f"{self.spec}.nodeSelector"])),
            # not {}: a free type parameter binds differently in cel-go's checker (compat.py D23)
            (1.0, lambda d: r.choice(["{'app': 'web'}", "{'a': 'x', 'b': 'y'}"])),
            (0.5, lambda d: "object.metadata.?labels.orValue({})"),
        ]

    def _node_map(self) -> list[tuple[float, Production]]:
        g = self.g
        return [
            (1.0, lambda d: f"{{{quote(self.rng.choice(LABEL_KEYS))}: {g('string', d)}}}"),
            (1.0, lambda d: f"{{?{quote(self.rng.choice(LABEL_KEYS))}: {self._literal_optional(d)}}}"),
        ]

    def _leaf_containers(self) -> list[tuple[float, Production]]:
        s = self.spec
        return [
            (3.0, lambda d: f"{s}.containers"),
            (1.0, lambda d: f"({s}.containers + {s}.?initContainers.orValue([]))"),
            (0.5, lambda d: f"{s}.initContainers"),
        ]

    def _node_containers(self) -> list[tuple[float, Production]]:
        return [(1.0, lambda d: self._filter_macro("containers", "container", d))]

    def _leaf_container(self) -> list[tuple[float, Production]]:
        return [(1.0, lambda d: f"{self.spec}.containers[0]")]

    def _node_container(self) -> list[tuple[float, Production]]:
        return []

    def _leaf_quantity(self) -> list[tuple[float, Production]]:
        r = self.rng
        return [(1.0, lambda d: f"quantity({quote(r.choice(QUANTITIES))})")]

    def _node_quantity(self) -> list[tuple[float, Production]]:
        r, g = self.rng, self.g
        return [
            # small ints only: cel-go negates an int64 for sub() and -(-2^63) wraps (compat.py D19)
            (1.0, lambda d: f"{g('quantity', d)}.{r.choice(['add', 'sub'])}({r.choice([g('quantity', d), str(r.randint(-5, 5))])})"),
            (0.5, lambda d: f"quantity({g('string', d)})"),
        ]

    def _container_fields(self, type_: str, c: str) -> list[str]:
        """What a comprehension variable over containers offers."""
        if type_ == "bool":
            return [
                f"{c}.name == 'app'", f"has({c}.securityContext)", f"has({c}.securityContext.privileged)",
                f"{c}.?securityContext.?privileged.orValue(false)", f"{c}.image.startsWith('registry.example.com/')",
                f"has({c}.resources.limits) && quantity({c}.resources.limits.cpu).isLessThan(quantity('2'))",
                f"{c}.ports.all(p, p.containerPort < 65536)", f"{c}.securityContext.privileged == true",
                f"!has({c}.securityContext) || !has({c}.securityContext.capabilities)"
                f" || {c}.securityContext.capabilities.?add.orValue([]).all(cap, cap in ['NET_BIND_SERVICE'])",
                f"{c}.?securityContext.?runAsUser.orValue(1) > 0", f"{c}.?env.orValue([]).exists(e, e.name == 'PATH')",
            ]
        if type_ == "string":
            return [f"{c}.name", f"{c}.image", f"{c}.?imagePullPolicy.orValue('IfNotPresent')", f"{c}.resources.limits.cpu"]
        return []
