"""The one place this project reaches into dagster's private modules; tests/test_compat.py fails loudly
when an upgrade moves any of these.

- ``ConfigurableResourceFactory``: the factory form of ``ConfigurableResource`` (configured like one,
  hands the asset the object it builds). dagster documents the pattern but does not export the class.
- ``step_key``: the executing step's key (which Glue run a retried step started is found by it); the
  execution context exposes it only through ``get_step_execution_context``, which is not public.
"""

from dagster import OpExecutionContext
from dagster._config.pythonic_config import ConfigurableResourceFactory


def step_key(context: OpExecutionContext) -> str:
    return context.get_step_execution_context().step.key


__all__ = ["ConfigurableResourceFactory", "step_key"]
