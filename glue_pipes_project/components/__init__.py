"""The project's component types (listed by ``dg list components``; registered in pyproject.toml)."""
