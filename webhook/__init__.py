"""celgate: ValidatingAdmissionPolicy semantics as a webhook and an offline CLI."""

__version__ = "0.1.0"
