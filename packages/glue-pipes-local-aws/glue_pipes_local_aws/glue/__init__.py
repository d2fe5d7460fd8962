"""Glue's job APIs, split the way moto splits a service: `models.py` holds the state (job definitions,
runs), `responses.py` answers the JSON API; `runner.py` executes runs as local processes in the
Python environment of `runtime.py`, and `log_shipper.py` sends their output to CloudWatch Logs."""
