"""`make lint`: the offline linters, over the files git knows in the current directory.

    .tools/lint/bin/python tools/lint/run.py --project-bin .venv/bin [NAME ...]

Runs with the lint environment's Python (synced from tools/lint/uv.lock); every linter runs, or only
the NAMEs given. Exit status 1 when any of them failed, 2 on a usage error. Adding a linter is one
line in LINTERS.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# The lint environment's executables: the linters come from there, never from PATH, so every machine
# runs the locked versions.
LINT_BIN = Path(sys.executable).parent
# No shellcheck wheel for Linux on ARM (tools/lint/pyproject.toml): actionlint then runs without it.
SHELLCHECK = str(LINT_BIN / "shellcheck") if (LINT_BIN / "shellcheck").exists() else ""

# git pathspecs: `*` matches across directories, so a Dockerfile anywhere in the tree is linted.
WORKFLOWS = (".github/workflows/*.yml", ".github/workflows/*.yaml")
DOCKERFILES = ("*Dockerfile", "*Dockerfile.*", "*.dockerfile", ":!*.dockerignore")
COMPOSE_FILES = ("*docker-compose*.yml", "*compose*.yaml")
INFRA_TEMPLATES = ("infra/*.yaml",)


@dataclass(frozen=True)
class Linter:
    name: str
    # The tool, looked up in the lint environment, then in the project's (--project-bin), and its flags.
    command: tuple[str, ...]
    # git pathspecs of the files it checks, appended to the command; when none match, it is skipped.
    # Empty: it runs once, on the directory.
    files: tuple[str, ...] = ()
    # A command that writes what to check into a temporary directory (given last); the linter then
    # gets that directory last instead of files.
    generate: tuple[str, ...] = ()


LINTERS = (
    Linter("actionlint", ("actionlint", "-no-color", "-shellcheck", SHELLCHECK, "-pyflakes", ""), WORKFLOWS),
    Linter("zizmor", ("zizmor", "--offline", "--quiet", "--no-progress", "--color", "never"), WORKFLOWS),
    Linter("check-jsonschema", ("check-jsonschema", "--builtin-schema", "vendor.github-workflows"), WORKFLOWS),
    Linter("hadolint", ("hadolint", "--no-color"), DOCKERFILES),
    Linter("compose-schema", ("check-jsonschema", "--builtin-schema", "vendor.compose-spec"), COMPOSE_FILES),
    Linter(
        "dagster-cloud", ("dagster-cloud", "ci", "check", "--project-dir", ".", "--dagster-cloud-connect-check", "skip")
    ),
    Linter("cfn-lint", ("cfn-lint",), INFRA_TEMPLATES),
    Linter(
        "checkov",
        ("checkov", "--skip-download", "--quiet", "--compact", "--framework", "cloudformation", "-f"),
        INFRA_TEMPLATES,
    ),
    # parliament reviews identity policies (not trust policies), with example values in place of the
    # <PLACEHOLDERS> of infra/policies/, which are not ARNs it accepts.
    Linter(
        "parliament",
        ("parliament", "--exclude_pattern", r".*-trust\.json", "--directory"),
        generate=("glue-pipes", "infra", "render-policies", "--example", "--output"),
    ),
)


def git_files(pathspecs: tuple[str, ...]) -> list[str]:
    """Tracked and untracked-but-not-ignored files matching the pathspecs (a new file counts before
    its first commit; a deleted one does not)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspecs],
        capture_output=True,
        text=True,
    )
    if listed.returncode:
        sys.exit(f"make lint lints the files git knows, and git says: {listed.stderr.strip()}")
    return sorted(path for path in set(listed.stdout.split("\0")) if path and Path(path).is_file())


def run(linter: Linter, project_bin: Path) -> tuple[str, str]:
    """Runs one linter; returns its verdict (ok, FAILED, skipped) and its output."""
    names = [command[0] for command in (linter.command, linter.generate) if command]
    tools = [_which(name, project_bin) for name in names]
    if missing := [name for name, tool in zip(names, tools, strict=True) if tool is None]:
        return "FAILED", f"{', '.join(missing)}: in neither {LINT_BIN} nor {project_bin}\n"
    files = git_files(linter.files) if linter.files else []
    if linter.files and not files:
        return "skipped", f"no file matches {' '.join(linter.files)}\n"
    with tempfile.TemporaryDirectory() as generated:
        if linter.generate:
            made = _run([str(tools[1]), *linter.generate[1:], generated])
            if made.returncode:
                return "FAILED", made.stdout + made.stderr
            files = [generated]
        done = _run([str(tools[0]), *linter.command[1:], *files])
    return ("FAILED" if done.returncode else "ok"), done.stdout + done.stderr


def _which(name: str, project_bin: Path) -> str | None:
    return shutil.which(name, path=f"{LINT_BIN}{os.pathsep}{project_bin}")


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    # stdin closed: parliament reads a policy from any stdin that is not a terminal.
    return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def main() -> int:
    names = [linter.name for linter in LINTERS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-bin", type=Path, required=True, help="the project environment's bin/")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(names)} (default: all)")
    args = parser.parse_args()
    if unknown := set(args.names) - set(names):
        parser.error(f"no linter named {', '.join(sorted(unknown))}; the linters: {', '.join(names)}")
    selected = [linter for linter in LINTERS if not args.names or linter.name in args.names]
    # The linters are independent: run them side by side, report them in order.
    with ThreadPoolExecutor(max_workers=len(selected)) as pool:
        verdicts = list(pool.map(lambda linter: run(linter, args.project_bin), selected))
    for linter, (verdict, output) in zip(selected, verdicts, strict=True):
        print(f"=== {linter.name}: {verdict}")
        if output.strip():
            print(output.rstrip())
    failed = [linter.name for linter, (verdict, _) in zip(selected, verdicts, strict=True) if verdict == "FAILED"]
    if failed:
        print(f"make lint: {len(failed)} of {len(selected)} failed: {', '.join(failed)}")
        return 1
    print(f"make lint: {len(selected)} of {len(selected)} ok or skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
