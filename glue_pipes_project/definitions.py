"""The code location: everything under ``defs/``, loaded when Dagster asks for it."""

import warnings
from pathlib import Path

import dagster as dg

from glue_pipes_project import defs as defs_package


@dg.definitions
def defs() -> dg.Definitions:
    # The defs package itself, not `load_from_defs_folder`: that reads pyproject.toml's [tool.dg], which an
    # installed wheel does not have. In a checkout the project root is the same as the one dg finds.
    project_root = Path(__file__).resolve().parent.parent
    with warnings.catch_warnings():
        # The loader calls dagster's own preview and beta APIs; load_from_defs_folder hides those warnings too.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.ComponentTree.from_module(defs_module=defs_package, project_root=project_root).build_defs()
