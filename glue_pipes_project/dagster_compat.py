"""The one place this project reaches into dagster's private modules; tests/test_compat.py fails loudly
when an upgrade moves any of these.

- ``ConfigurableResourceFactory``: the factory form of ``ConfigurableResource`` (configured like one,
  hands the asset the object it builds). dagster documents the pattern but does not export the class.
"""

from dagster._config.pythonic_config import ConfigurableResourceFactory

__all__ = ["ConfigurableResourceFactory"]
