"""Glue's transform classes: `ApplyMapping.apply(frame=..., mappings=...)` and the like call the
DynamicFrame's method of the same meaning."""

from typing import Any

from .dynamicframe import DynamicFrame, DynamicFrameCollection


class ApplyMapping:
    @classmethod
    def apply(cls, frame: DynamicFrame, mappings: Any, **kwargs: Any) -> DynamicFrame:
        return frame.apply_mapping(mappings, **kwargs)


class ResolveChoice:
    @classmethod
    def apply(cls, frame: DynamicFrame, specs: Any = None, choice: str = "", **kwargs: Any) -> DynamicFrame:
        return frame.resolveChoice(specs, choice, **kwargs)


class Join:
    @classmethod
    def apply(cls, frame1: DynamicFrame, frame2: DynamicFrame, keys1: Any, keys2: Any, **kwargs: Any) -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, **kwargs)


class Filter:
    @classmethod
    def apply(cls, frame: DynamicFrame, f: Any, **kwargs: Any) -> DynamicFrame:
        return frame.filter(f, **kwargs)


class SelectFields:
    @classmethod
    def apply(cls, frame: DynamicFrame, paths: Any, **kwargs: Any) -> DynamicFrame:
        return frame.select_fields(paths, **kwargs)


class DropFields:
    @classmethod
    def apply(cls, frame: DynamicFrame, paths: Any, **kwargs: Any) -> DynamicFrame:
        return frame.drop_fields(paths, **kwargs)


class RenameField:
    @classmethod
    def apply(cls, frame: DynamicFrame, old_name: str, new_name: str, **kwargs: Any) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, **kwargs)


class Relationalize:
    @classmethod
    def apply(
        cls, frame: DynamicFrame, staging_path: str = "", name: str = "roottable", **kwargs: Any
    ) -> DynamicFrameCollection:
        return frame.relationalize(name, staging_path, **kwargs)


class Repartition:
    @classmethod
    def apply(cls, frame: DynamicFrame, num_partitions: int, **kwargs: Any) -> DynamicFrame:
        return frame.repartition(num_partitions)


__all__ = [
    "ApplyMapping",
    "DropFields",
    "Filter",
    "Join",
    "Relationalize",
    "RenameField",
    "Repartition",
    "ResolveChoice",
    "SelectFields",
]
