"""The policy set in force, reloaded from disk when its files change.

A reload that fails validation keeps the last good set serving: the error is logged, kept for
``GET /policies`` and exported as a metric, and the next change of the files is tried again. So
does a reload that would leave no policy at all where some were in force: the files of a mount
that went missing, never a reason to admit everything.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

from webhook.policy.loader import PolicyLoadError, PolicySet, load_policy_set

log = logging.getLogger("celgate.policies")

POLICY_SUFFIXES = (".yaml", ".yml", ".json")

ReloadResult = Literal["unchanged", "reloaded", "failed"]


def _policy_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in POLICY_SUFFIXES and p.is_file()
                       and not any(part.startswith("..") for part in p.relative_to(path).parts))
            )
        else:
            files.append(path)
    return files


def fingerprint(paths: Sequence[Path]) -> str:
    """A digest of every policy file's name and content (ConfigMap updates swap symlinks)."""
    hasher = hashlib.sha256()
    for file in _policy_files(paths):
        hasher.update(str(file).encode())
        try:
            with file.open("rb") as content:  # in chunks: a huge file is the loader's to refuse
                hasher.update(hashlib.file_digest(content, "sha256").digest())
        except OSError as exc:
            hasher.update(f"unreadable:{exc.errno}".encode())
    return hasher.hexdigest()


@dataclass(frozen=True)
class ReloadStatus:
    generation: int
    loaded_at: float
    last_attempt_at: float
    last_error: str | None


class PolicyStore:
    def __init__(
        self,
        paths: Sequence[str | Path],
        loader: Callable[[Sequence[Path]], PolicySet] = load_policy_set,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self._loader = loader
        self._lock = threading.Lock()
        self._fingerprint = fingerprint(self.paths)
        self._current = loader(self.paths)  # the first load must succeed: PolicyLoadError propagates
        now = time.time()
        self._status = ReloadStatus(generation=1, loaded_at=now, last_attempt_at=now, last_error=None)

    @property
    def current(self) -> PolicySet:
        return self._current

    @property
    def status(self) -> ReloadStatus:
        return self._status

    def reload_if_changed(self) -> ReloadResult:
        with self._lock:
            digest = fingerprint(self.paths)
            if digest == self._fingerprint:
                return "unchanged"
            self._fingerprint = digest
            now = time.time()
            try:
                policy_set = self._loader(self.paths)
                if not policy_set.names() and self._current.names():
                    raise PolicyLoadError([
                        f"the policy files now hold no policy (generation {self._status.generation} has "
                        f"{len(self._current.names())}): an emptied directory is taken for a broken mount, not "
                        "an instruction to stop enforcing; to enforce nothing, restart celgate with no policies"
                    ])
            except PolicyLoadError as exc:
                self._status = ReloadStatus(
                    self._status.generation, self._status.loaded_at, now, str(exc)
                )
                log.error("policies: reload rejected, still serving generation %d: %s",
                          self._status.generation, exc)
                return "failed"
            self._current = policy_set
            self._status = ReloadStatus(self._status.generation + 1, now, now, None)
            log.info("policies: generation %d loaded (%d policies)", self._status.generation,
                     len(policy_set.names()))
            return "reloaded"
