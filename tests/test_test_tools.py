"""The test tools do what `make test` relies on (an upgrade that breaks them fails here, not silently)."""

import subprocess
import sys
import textwrap


def test_loadgroup_keeps_each_group_on_one_worker(tmp_path):
    # pytest 9.2 with pytest-xdist 3.8 ignores xdist_group silently (pytest-dev/pytest-xdist#1386): the
    # costly session fixtures of grouped modules (Postgres, Spark Glue runs) would be built on every worker.
    for name in ("a", "b"):
        (tmp_path / f"test_{name}.py").write_text(
            textwrap.dedent(
                """
                import pytest

                pytestmark = pytest.mark.xdist_group("one")

                @pytest.mark.parametrize("i", range(4))
                def test_worker(i):
                    pass
                """
            )
        )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-v",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    workers = {line.split()[0] for line in completed.stdout.splitlines() if line.startswith("[gw") and "PASSED" in line}
    assert len(workers) == 1, f"one group ran on {sorted(workers)}"
