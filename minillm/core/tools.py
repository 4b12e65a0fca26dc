"""Tool calls as the normalized model keeps them: arguments stay raw JSON text until asked for."""

from __future__ import annotations

import json
from typing import Any

import attrs

from minillm.core.errors import InvalidParameterError

__all__ = ["ToolCall"]


@attrs.frozen
class ToolCall:
    """One call the model asked for: its ``id``, the tool ``name`` and the ``arguments`` as JSON text."""

    id: str
    name: str
    arguments: str = ""

    def arguments_json(self) -> Any:
        """The arguments parsed strictly; invalid JSON raises ``InvalidParameterError``."""
        try:
            return json.loads(self.arguments or "{}")
        except ValueError as e:
            raise InvalidParameterError(
                f"tool call {self.id!r} ({self.name}) has arguments that are not valid JSON: {e}; "
                "use arguments_json_repaired() to accept slightly broken JSON"
            ) from e

    def arguments_json_repaired(self) -> Any:
        """The arguments parsed leniently, repairing broken JSON (json-repair)."""
        from minillm.core.jsonfix import loads

        return loads(self.arguments or "{}")

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}
