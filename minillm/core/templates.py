"""``{placeholder}`` substitution: one left-to-right pass, values never re-scanned."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["apply_kwargs"]


def apply_kwargs(template: str, kwargs: Mapping[str, str]) -> str:
    """Replace each ``{key}`` whose key is in ``kwargs`` with its value; leave every other brace as it is.

    The key is the exact text between a ``{`` and the next ``}`` (no trimming, no escapes). Inserted values
    are never scanned again, so the result does not depend on the order of ``kwargs``.
    """
    if not kwargs or "{" not in template:
        return template
    out: list[str] = []
    pos = 0
    n = len(template)
    while pos < n:
        start = template.find("{", pos)
        if start == -1:
            break
        end = template.find("}", start + 1)
        if end == -1:
            break
        key = template[start + 1 : end]
        out.append(template[pos:start])
        value = kwargs.get(key)
        out.append(template[start : end + 1] if value is None else value)
        pos = end + 1
    out.append(template[pos:])
    return "".join(out)
