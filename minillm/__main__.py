"""``python -m minillm``: the ``minillm`` command, for when the console script is not on ``PATH``."""

from __future__ import annotations

from minillm.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
