"""ValidatingAdmissionPolicy semantics: models, loading, matching, evaluation, decisions. No I/O.

The pipeline, in module names (after k8s.io/apiserver/pkg/admission/plugin/policy/validating):
  loader.load_policy_set -> shape + validation (as on create) -> compiler (CEL, composition)
  dispatcher.decide -> matching (rules, selectors, matchPolicy) -> params -> validator
  (matchConditions, variables, validations, messages, audit annotations) -> decision
"""
