"""Reports of a dry run (``celgate test --output ...``): one module per format.

Each module exposes ``render(results) -> str`` over ``webhook.admission.dry_run.ObjectResult``;
the formats never decide anything, they only present decisions already made.
"""

from __future__ import annotations

from typing import Callable, Sequence

from webhook.admission.dry_run import ObjectResult
from webhook.reporting import json_report, junit, sarif, text

Renderer = Callable[[Sequence[ObjectResult]], str]

FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "junit": junit.render,
    "sarif": sarif.render,
}
