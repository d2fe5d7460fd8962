"""`getResolvedOptions` where the official package is not installed (it supports Python < 3.12 only).

Same parsing as the official one (tests/test_awsglue_local.py compares them): Glue's reserved
arguments, the job bookmark option (default `job-bookmark-disable`), TempDir, and every requested
option required.
"""

import argparse
from collections.abc import Sequence
from typing import Any

from awsglue.job import Job

_global_args: dict[str, Any] = {}


class GlueArgumentError(Exception):
    pass


class GlueArgumentParser(argparse.ArgumentParser):
    """Raises instead of exiting, so the error reaches the script."""

    def error(self, message: str) -> Any:
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:  # noqa: N802 (Glue's name)
    bookmark, continuation = Job.job_bookmark_options(), Job.continuation_options()
    reserved = [bookmark[0][2:], continuation[0][2:], *(o[2:] for o in Job.job_bookmark_range_options())]
    reserved += [*Job.id_params()[1:], Job.encryption_type_options()[0], Job.data_lineage_options()[0]]
    for option in options:
        if option in reserved:
            raise RuntimeError(f"Using reserved arguments {option}")

    parser = GlueArgumentParser()
    parser.add_argument(bookmark[0], choices=bookmark[1:], required=False)
    parser.add_argument(continuation[0], choices=continuation[1:], required=False)
    for option in [*Job.job_bookmark_range_options(), *Job.id_params()[1:], Job.data_lineage_options()[0]]:
        parser.add_argument(option, required=False)
    parser.add_argument(Job.encryption_type_options()[0], choices=Job.encryption_type_options()[1:])
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        if option not in ("RedshiftTempDir", "TempDir"):
            parser.add_argument("--" + option, required=True)
    parsed = vars(parser.parse_known_args(list(args[1:]))[0])

    if parsed["TempDir"] is not None:
        parsed["RedshiftTempDir"] = parsed["TempDir"]
    elif parsed["RedshiftTempDir"] is not None:
        parsed["TempDir"] = parsed["RedshiftTempDir"]

    # An old-style --continuation-option stands in for a missing --job-bookmark-option.
    continuation_value = parsed.pop("continuation_option", None)
    if parsed["job_bookmark_option"] is None:
        parsed["job_bookmark_option"] = (
            bookmark[3] if continuation_value is None else bookmark[continuation.index(continuation_value)]
        )
    absent = [o for o in Job.job_bookmark_range_options() if parsed.get(o[2:].replace("-", "_")) is None]
    if parsed["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(Job.job_bookmark_range_options()))

    _global_args.update(parsed)
    return parsed
