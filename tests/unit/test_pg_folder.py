"""The cluster's folder falls back to /var/tmp when the `postgres` user cannot reach the checkout."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kravsak.stack.postgres import reachable_root


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL through runuser")
def test_a_checkout_under_a_closed_folder_keeps_its_cluster_under_var_tmp(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    wanted = closed / "repo" / ".kravsak" / "pg"
    root = reachable_root(wanted)
    assert root.parent == Path("/var/tmp") and root.name.startswith("kravsak-pg-")
    assert reachable_root(wanted) == root  # the same cluster every time


def test_a_reachable_checkout_keeps_its_cluster_inside() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)
        wanted = Path(folder) / ".kravsak" / "pg"
        assert reachable_root(wanted) == wanted
