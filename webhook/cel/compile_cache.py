"""Compile outcomes kept on disk, addressed by their content, so a second start compiles nothing.

Most of celgate's start-up is compiling the policy set: cel-cpp's compile of each expression,
the checked AST decoded in Python (ast.py), cel-go's compile-time checks and the rewrites that
make a program run as cel-go's would (environment.py). An outcome — the program, its AST and
output type, or the compile error's text — depends only on the expression, how it is compiled
and the code that compiles it, so it is stored under a hash of exactly those: the text, the
compile mode, the environment's declarations, and a fingerprint of the ``webhook/cel`` sources
and of the celgate, cel-expr-python and Python versions. Any change to them is another key; an
entry is never read by other code than the one that wrote it.

The directory is ``compile/`` under celgate's cache root, ``$CELGATE_CACHE`` (default
``~/.cache/celgate``, as for the oracle and control-plane builds); ``CELGATE_COMPILE_CACHE=off``
turns the store off. Only the policy compiler's environments use it (policy/compiler.py), so
what it holds grows with the policies loaded, not with every expression ``celgate eval``
is given; it can be deleted at any time. Entries are written to a
temporary file and renamed into place, so concurrent writers and readers see a whole entry or
none. A directory that cannot be created or written (a read-only filesystem) turns the store off
without a word, and an entry that cannot be read back is a miss: the cache can make a start
faster, never change what it compiles. Entries are pickles read by an unpickler that admits the
AST's own classes (ast.py) and nothing else, so a planted file can fail to load but runs no code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

_OFF = ("", "off", "0", "false", "no")
_CEL_PACKAGE = Path(__file__).resolve().parent
_AST_MODULE = "webhook.cel.ast"


def default_directory() -> Path | None:
    """Where entries live, or None when the store is turned off."""
    if os.environ.get("CELGATE_COMPILE_CACHE", "on").strip().lower() in _OFF:
        return None
    root = os.environ.get("CELGATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "celgate")
    return Path(root).expanduser() / "compile"


def _version(distribution: str) -> str:
    from importlib import metadata  # only when a key is first made: it is slow to import

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def code_fingerprint() -> str:
    """A hash of everything an outcome depends on besides its expression and environment."""
    digest = hashlib.sha256()
    for part in (sys.version, _version("celgate"), _version("cel-expr-python")):
        digest.update(part.encode() + b"\0")
    for source in sorted(_CEL_PACKAGE.rglob("*.py")):
        digest.update(str(source.relative_to(_CEL_PACKAGE)).encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()


class _AstUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == _AST_MODULE:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not an AST class")


class CompileCache:
    """Outcomes under ``directory`` (None: a store that holds nothing)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._fingerprint: str | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def key(self, *parts: str) -> str:
        """The address of an outcome: ``parts`` (identity, mode, expression) and the code's fingerprint."""
        with self._lock:
            if self._fingerprint is None:
                try:
                    self._fingerprint = code_fingerprint()
                except OSError:  # the sources cannot be read: nothing could be keyed safely
                    self.directory = None
                    self._fingerprint = ""
        digest = hashlib.sha256(self._fingerprint.encode())
        for part in parts:
            digest.update(b"\0" + part.encode())
        return digest.hexdigest()

    def get(self, key: str) -> tuple[Any, ...] | None:
        if self.directory is None:
            return None
        try:
            data = (self.directory / key[:2] / key).read_bytes()
            value = _AstUnpickler(io.BytesIO(data)).load()
        except Exception:  # noqa: BLE001 - absent, unreadable or not ours: a miss
            return None
        return value if isinstance(value, tuple) else None

    def put(self, key: str, value: tuple[Any, ...]) -> None:
        directory = self.directory
        if directory is None:
            return
        import tempfile  # only when something is written: a warm start never needs it

        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            folder = directory / key[:2]
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, folder / key)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, pickle.PicklingError, RecursionError):
            self.directory = None  # read-only or full: stay out of the way from now on
