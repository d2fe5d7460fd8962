"""What AWS Glue is, in one place for the production side: runtimes, workers, limits, states, prices.

The deploy step validates against these and the Pipes client and cost estimate read them. The local
endpoint's Glue emulation (its ``glue/models.py``) keeps its own copy on purpose, so a wrong fact
here is caught by a test against it instead of being agreed with.
"""

# Python each Glue runtime gives a script (AWS Glue release notes).
GLUE_PYTHON = {
    ("pythonshell", "3.0"): "3.9",
    ("glueetl", "3.0"): "3.7",
    ("glueetl", "4.0"): "3.10",
    ("glueetl", "5.0"): "3.11",
    ("glueetl", "5.1"): "3.11",
}
# The PythonVersion value Glue's API takes for each job type.
COMMAND_PYTHON_VERSION = {"pythonshell": "3.9", "glueetl": "3"}
# DPUs per worker (Glue's worker types).
WORKER_DPU = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}
WORKER_TYPES = tuple(WORKER_DPU)
PYTHONSHELL_CAPACITIES = (0.0625, 1.0)

# CreateJob limits: Timeout "less than 7 days or 10080 minutes"; Description 0-2048 characters;
# Name 1-255 characters.
MAX_TIMEOUT_MINUTES = 10080
MAX_DESCRIPTION = 2048
MAX_JOB_NAME = 255

# JobRunState values after which a run never changes (EXPIRED included, which dagster-aws misses).
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})

# Billing: per DPU-hour, one-minute minimum per run; us-east-1 list prices.
MINIMUM_BILLED_SECONDS = 60
STANDARD_DPU_HOUR_USD = 0.44
FLEX_DPU_HOUR_USD = 0.29
