"""ValidatingAdmissionPolicy semantics: models, loading, matching, evaluation, decisions. No I/O."""
