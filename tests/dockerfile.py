"""A Dockerfile read as its build stages, so tests replay and check its own steps instead of copies of them."""

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    name: str
    image: str  # as written after FROM, e.g. ${PYTHON_IMAGE}
    instructions: list[tuple[str, str]]  # (keyword in upper case, its arguments)

    def arguments(self, keyword: str) -> list[str]:
        return [arguments for key, arguments in self.instructions if key == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON argv of the stage's one CMD or HEALTHCHECK ... CMD."""
        (arguments,) = self.arguments(keyword)
        return json.loads(arguments[arguments.index("[") :])


@dataclass(frozen=True)
class Dockerfile:
    args: dict[str, str]  # the ARGs before the first FROM, with their defaults
    stages: list[Stage]

    @classmethod
    def read(cls, path: Path) -> "Dockerfile":
        # Comment lines go first: Docker drops them even inside a continued instruction.
        lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        logical = re.sub(r"\\\n\s*", "", "\n".join(lines)).splitlines()
        args: dict[str, str] = {}
        stages: list[Stage] = []
        for line in filter(None, (line.strip() for line in logical)):
            keyword, _, arguments = line.partition(" ")
            keyword, arguments = keyword.upper(), arguments.strip()
            if keyword == "FROM":
                image, _, name = arguments.partition(" AS ")
                stages.append(Stage(name=name.strip() or str(len(stages)), image=image.strip(), instructions=[]))
            elif not stages:
                assert keyword == "ARG", f"{path}: {keyword} before the first FROM"
                name, _, default = arguments.partition("=")
                args[name] = default
            else:
                stages[-1].instructions.append((keyword, arguments))
        return cls(args=args, stages=stages)

    def stage(self, name: str) -> Stage:
        (stage,) = (stage for stage in self.stages if stage.name == name)
        return stage

    @property
    def final(self) -> Stage:
        return self.stages[-1]
