"""What a Glue job run used and cost: DPU-hours and an estimate at configurable rates.

Glue bills per DPU-hour with a one-minute minimum per run. Rates default to us-east-1's list prices
($0.44 standard, $0.29 Flex); set your region's rates on the resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glue_pipes_project.glue_facts import FLEX_DPU_HOUR_USD, MINIMUM_BILLED_SECONDS, STANDARD_DPU_HOUR_USD, WORKER_DPU


@dataclass(frozen=True)
class GlueRates:
    standard_dpu_hour_usd: float = STANDARD_DPU_HOUR_USD
    flex_dpu_hour_usd: float = FLEX_DPU_HOUR_USD


@dataclass(frozen=True)
class GlueUsage:
    execution_seconds: int
    dpus: float | None
    dpu_hours: float | None
    estimated_cost_usd: float | None

    @classmethod
    def of(cls, job_run: dict[str, Any], rates: GlueRates) -> GlueUsage:
        seconds = int(job_run.get("ExecutionTime") or 0)
        worker_type = job_run.get("WorkerType")
        if worker_type in WORKER_DPU and job_run.get("NumberOfWorkers"):
            dpus: float | None = WORKER_DPU[worker_type] * job_run["NumberOfWorkers"]
        else:
            dpus = job_run.get("MaxCapacity")
        if job_run.get("DPUSeconds"):  # Glue reports it for auto-scaling and Flex runs
            dpu_hours: float | None = job_run["DPUSeconds"] / 3600
        elif dpus is not None:
            dpu_hours = dpus * max(seconds, MINIMUM_BILLED_SECONDS) / 3600
        else:
            dpu_hours = None
        rate = rates.flex_dpu_hour_usd if job_run.get("ExecutionClass") == "FLEX" else rates.standard_dpu_hour_usd
        cost = None if dpu_hours is None else round(dpu_hours * rate, 6)
        return cls(seconds, dpus, None if dpu_hours is None else round(dpu_hours, 6), cost)
