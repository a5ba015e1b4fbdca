"""The runtime cost limits kube-apiserver puts on CEL, and the errors that report them.

A leaf module: the environment, the library functions (ext_lists cancels an over-limit call
before doing the work) and the runtime cost evaluator all read these, so none of them has to
import another for a number.
"""

from __future__ import annotations

# k8s.io/apiserver/pkg/apis/cel/config.go
PER_CALL_LIMIT = 1_000_000
RUNTIME_CEL_COST_BUDGET = 10_000_000
RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS = 2_500_000
# filter.go: the error of a filter whose runtime cost budget ran out
OUT_OF_BUDGET = "validation failed due to running out of cost budget, no further validation rules will be run"
# cel-go's error when one expression's actual cost passes PER_CALL_LIMIT
COST_LIMIT_EXCEEDED = "operation cancelled: actual cost limit exceeded"
