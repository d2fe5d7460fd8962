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


def test_waiting_tests_are_spread_between_whole_modules_in_the_first_two_thirds():
    from pathlib import Path

    from tests.conftest import pytest_collection_modifyitems

    class Item:  # what the hook reads of a pytest.Item
        def __init__(self, module: str, waits: bool) -> None:
            self.path, self.waits = Path(module), waits

        def get_closest_marker(self, name: str) -> object | None:
            return object() if name == "waits" and self.waits else None

    items = [Item(f"test_{m}.py", False) for m in range(9) for _ in range(3)] + [Item("test_w.py", True)] * 4
    pytest_collection_modifyitems(items)  # the hook reads only .path and get_closest_marker
    modules = [item.path.name for item in items if not item.waits]
    assert modules == [f"test_{m}.py" for m in range(9) for _ in range(3)]  # the others, whole and in order
    positions = [i for i, item in enumerate(items) if item.waits]
    assert len(positions) == 4 and positions[-1] < 2 * len(items) // 3
    assert all(b - a > 1 for a, b in zip(positions, positions[1:], strict=False))  # never two in a row here
    for i in positions:  # each between two different modules
        assert items[i - 1].path != items[i + 1].path
