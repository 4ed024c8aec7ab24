"""A head node that fails to start reports ``ray start``'s exit code and output (no Ray needed)."""
from __future__ import annotations

import pytest

from oneshot.distributed import local_cluster


def test_a_failed_ray_start_names_its_exit_code_and_output(tmp_path, monkeypatch):
    fake = tmp_path / "ray"
    fake.write_text("#!/bin/sh\necho 'port 6379 already in use'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(local_cluster, "ray_executable", lambda: str(fake))
    cluster = local_cluster.LocalCluster(dashboard=False)
    with pytest.raises(RuntimeError, match=r"failed \(exit 3\):\nport 6379 already in use"):
        cluster.start()
    assert cluster.pgid is None  # stopped: nothing of it is left to clean up
