"""The OCI image tools/build-image makes: celgate runs inside its root filesystem (chroot, as
uid 65532) and the image config is what a restricted Pod needs.

Set by tests/run after building: ``CELGATE_IMAGE_DIR`` (the build's output directory, holding
``rootfs/`` and ``celgate.oci.tar``). chroot needs root.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.image

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = os.environ.get("CELGATE_IMAGE_DIR")
NONROOT = "65532:65532"
SHELLS = ("bin/sh", "bin/bash", "bin/dash", "usr/bin/sh", "usr/bin/bash", "usr/bin/dash")

if not IMAGE_DIR:
    pytest.skip("CELGATE_IMAGE_DIR is not set (tools/build-image builds the image; tests/run sets it)",
                allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("chroot into the image's root filesystem needs root", allow_module_level=True)

ROOTFS = Path(IMAGE_DIR) / "rootfs"
ARCHIVE = Path(IMAGE_DIR) / "celgate.oci.tar"


def in_image(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv inside the root filesystem as the image's user, with the image's environment."""
    env = {"PATH": "/usr/local/bin:/usr/bin", "PYTHONDONTWRITEBYTECODE": "1",
           "CELGATE_POLICIES": "/opt/celgate/policies"}
    return subprocess.run(["/usr/sbin/chroot", f"--userspec={NONROOT}", str(ROOTFS), *argv], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def blob(archive: tarfile.TarFile, digest: str) -> bytes:
    algorithm, _, value = digest.partition(":")
    member = archive.extractfile(f"blobs/{algorithm}/{value}")
    assert member is not None
    return member.read()


@pytest.fixture(scope="module")
def image_config() -> dict[str, Any]:
    with tarfile.open(ARCHIVE) as archive:
        index = json.loads(archive.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(blob(archive, index["manifests"][0]["digest"]))
        return json.loads(blob(archive, manifest["config"]["digest"]))


def test_celgate_version_runs_in_the_image():
    result = in_image("celgate", "--version")
    assert result.returncode == 0, result.stderr
    version = next(line.split('"')[1] for line in (REPO / "pyproject.toml").read_text().splitlines()
                   if line.startswith("version = "))
    assert result.stdout.strip() == f"celgate {version}"


def test_celgate_test_in_the_image_denies_a_privileged_pod_with_the_shipped_policies():
    pod = (REPO / "examples" / "manifests" / "privileged-pod.yaml").read_text()
    result = in_image("celgate", "test", "--namespace-labels",
                      "default=pod-security.kubernetes.io/enforce=restricted", "-", stdin=pod)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DENIED" in result.stdout and "privileged" in result.stdout


def test_the_image_runs_as_uid_65532_without_a_shell(image_config):
    config = image_config["config"]
    assert config["User"] == NONROOT
    entrypoint = config["Entrypoint"]
    assert entrypoint[:3] == ["/usr/local/bin/celgate", "serve", "--in-cluster"]
    # Exec form and a Python shebang: nothing at run time needs a shell, and there is none.
    assert (ROOTFS / "usr/local/bin/celgate").read_text().startswith("#!/usr/bin/python3\n")
    assert not [s for s in SHELLS if (ROOTFS / s).exists()]
    assert "CELGATE_POLICIES=/opt/celgate/policies" in config["Env"]
    assert {"8443/tcp", "8080/tcp"} <= set(config["ExposedPorts"])


def test_the_image_carries_oci_labels(image_config):
    labels = image_config["config"]["Labels"]
    for key in ("title", "version", "revision", "created", "licenses", "description"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_the_image_has_one_layer_and_no_build_history_of_run_steps(image_config):
    assert len(image_config["rootfs"]["diff_ids"]) == 1
    assert not any("RUN" in (h.get("created_by") or "") for h in image_config.get("history", []))


def test_celgate_serve_answers_inside_the_image_as_uid_65532():
    import socket
    import time
    import urllib.request

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    port, metrics = free_port(), free_port()
    env = {"PATH": "/usr/local/bin:/usr/bin", "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp",
           "CELGATE_POLICIES": "/opt/celgate/policies"}
    # No arguments but ports: the embedded default (throwaway certificates under /tmp).
    process = subprocess.Popen(["/usr/sbin/chroot", f"--userspec={NONROOT}", str(ROOTFS), "celgate", "serve",
                                "--port", str(port), "--metrics-port", str(metrics), "--workers", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/readyz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("celgate serve in the image never became ready")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the TLS port listens too
    finally:
        process.terminate()
        process.wait(timeout=30)
