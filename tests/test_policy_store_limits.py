"""A policy file over a limit that lands mid-reload is refused; the last good set keeps serving."""

from __future__ import annotations

import shutil
from pathlib import Path

from webhook.policy_store import PolicyStore

POLICIES = Path(__file__).parent / "fixtures" / "server" / "policies"


def test_a_yaml_bomb_landing_in_the_policy_directory_is_refused_and_the_old_set_serves(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    store = PolicyStore([policies])
    names = store.current.names()
    bomb = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        bomb.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    (policies / "bomb.yaml").write_text("\n".join(bomb) + "\n")

    assert store.reload_if_changed() == "failed"
    assert store.current.names() == names
    assert store.status.generation == 1
    assert "bomb.yaml#0" in (store.status.last_error or "")
    assert "line 10: aliases expand to more than 400,000 nodes" in (store.status.last_error or "")


def test_a_reload_that_would_leave_no_policy_is_refused_and_the_old_set_serves(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    store = PolicyStore([policies])
    names = store.current.names()
    assert names
    for file in policies.iterdir():
        file.unlink()  # a ConfigMap mount gone empty

    assert store.reload_if_changed() == "failed"
    assert store.current.names() == names
    assert "now hold no policy" in (store.status.last_error or "")
    shutil.copytree(POLICIES, policies, dirs_exist_ok=True)
    assert store.reload_if_changed() == "reloaded"
