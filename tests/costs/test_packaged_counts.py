"""The packaged operator counts equal a fresh count, and pricing built-in spaces needs no torch."""
from __future__ import annotations

import json
import subprocess
import sys

from oneshot.costs.counting import PACKAGED_COUNTS, builtin_counts


def test_packaged_counts_are_current():
    stored = json.loads(PACKAGED_COUNTS.read_text())
    assert stored == builtin_counts(), "regenerate with: python -m oneshot.costs.counting"


def _imports_torch(code: str) -> bool:
    probe = code + "\nimport sys\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_cost_table_of_a_builtin_space_imports_no_torch():
    assert not _imports_torch("from oneshot.costs.counting import flops_params_table\n"
                              "from oneshot.spaces import create_space\n"
                              "flops_params_table(create_space('nas-bench-macro'))\n"
                              "flops_params_table(create_space('proxylessnas'))")


def test_tabular_search_and_arch_info_import_no_torch(tmp_path):
    code = ("from oneshot.cli.main import main\n"
            f"main(['search', '--benchmark', 'nas-bench-macro', '--budget', '2', '--out', r'{tmp_path / 's'}', "
            "'--no-progress'])\n"
            "main(['arch-info', 'nas-bench-macro', '01201201'])")
    assert not _imports_torch(code)
