"""The shared checks in minillm.core._validators: the wording of each refusal, and lenient token counts."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from minillm import InvalidParameterError, NodeCompletionParameters, TokenPrice
from minillm.core import _validators as _v
from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.openai_wire import parse_openai_usage
from minillm.core.providers.openrouter import parse_generation_record
from minillm.core.retry import RetryPolicy


@attrs.frozen
class _Box:
    count: Any = attrs.field(default=1, validator=_v.int_at_least(1, optional=False))
    size: Any = attrs.field(default=None, validator=_v.number_in(0, unit=" of widgets"))
    share: Any = attrs.field(default=None, validator=_v.number_in(0.0, 1.0))
    offset: Any = attrs.field(default=None, validator=_v.number_in(-1.5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "_Box.count must be an integer >= 1, got 0"),
        ({"count": None}, "_Box.count must be an integer >= 1, got None"),
        ({"count": True}, "_Box.count must be an integer >= 1, got True"),
        ({"size": -1}, "_Box.size must be a finite, non-negative number of widgets, got -1"),
        ({"size": float("inf")}, "_Box.size must be a finite, non-negative number of widgets, got inf"),
        ({"share": 1.5}, "_Box.share must be a number from 0.0 to 1.0, got 1.5"),
        ({"offset": -2}, "_Box.offset must be a finite number >= -1.5, got -2"),
    ],
)
def test_each_refusal_names_the_field_and_the_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        _Box(**kwargs)
    assert str(info.value) == message


def test_optional_fields_take_none_and_required_ones_do_not() -> None:
    assert _Box(size=None, share=None, offset=None).size is None
    with pytest.raises(InvalidParameterError, match="non-negative number of USD per million tokens, got None"):
        TokenPrice(None, 1.0)  # type: ignore[arg-type]
    assert TokenPrice(1.0, 2.0, cache_read_per_mtok=None).cache_read_per_mtok is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: RetryPolicy(jitter=-1),
        lambda: RetryPolicy(back_off_time=float("nan")),
        lambda: TokenPrice(1.0, -2.0),
        lambda: NodeCompletionParameters(back_off_time=-1.0),
    ],
)
def test_every_value_type_words_a_negative_number_alike(build: Any) -> None:
    with pytest.raises(InvalidParameterError, match="must be a finite, non-negative number"):
        build()


@pytest.mark.parametrize(
    ("raw", "count"),
    [(7, 7), (15.0, 15), (0, 0), (-3, 0), (2.5, 0), (-1.0, 0), (True, 0), ("12", 0), (None, 0), ([1], 0)],
)
def test_token_count_reads_what_a_provider_sends(raw: object, count: int) -> None:
    assert _v.token_count(raw) == count


def test_every_wire_reads_counts_alike() -> None:
    # The same slips (an integral float, a negative, a string) read the same on all three usage readers.
    openai = parse_openai_usage({"prompt_tokens": 15.0, "completion_tokens": -1})
    assert openai is not None and (openai.uncached_input_tokens, openai.completion_tokens) == (15, 0)
    record = parse_generation_record({"data": {"total_cost": 0.1, "tokens_prompt": 15.0, "tokens_completion": "9"}})
    assert record is not None and (record.uncached_input_tokens, record.completion_tokens) == (15, 0)
    body = {
        "id": "msg_1",
        "type": "message",
        "model": "claude",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 15.0, "output_tokens": -1},
    }
    usage = AnthropicProvider().parse_response(body).usage
    assert usage is not None and (usage.uncached_input_tokens, usage.completion_tokens) == (15, 0)
