"""``minillm demo``: a tour of the library that needs no key and no network.

It starts ``minillm.testing``'s ``MockLLMServer`` on a free loopback port, points an OpenRouter generator at
it, and runs each capability once over real HTTP, printing what it does: a branching conversation tree,
streaming, template kwargs, JSON repair, cost tracking (an estimate before a call, the actual after it, a
budget), a retry after a 429, saving and loading a thread, and structured output with a re-ask.
The server answers with scripted replies where a step needs a particular shape (a 429, broken JSON, usage
with a cost) and otherwise with a small responder that writes plausible travel-guide answers.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
import time
from typing import TextIO

import attrs

from minillm.core.budget import Budget
from minillm.core.errors import BudgetExceededError, MaxRetriesExceededError, RateLimitError
from minillm.core.generator import GeneratorInfo
from minillm.core.jsonfix import loads, repair_json
from minillm.core.params import CompletionParameters, NodeCompletionParameters
from minillm.core.tree import ChatNode
from minillm.core.usage import CostInfo, TokenPrice
from minillm.testing import MockLLMServer, RecordedRequest, Reply
from minillm.transport import SyncClient

__all__ = ["SECTIONS", "run_demo"]

SECTIONS = (
    "1. A conversation tree, with branching",
    "2. Streaming",
    "3. Templates (format kwargs)",
    "4. JSON repair",
    "5. Cost tracking",
    "6. A retry after a 429",
    "7. Saving and loading a thread",
    "8. Structured output, with a re-ask",
)
"""The headings the demo prints, in order."""

_MODEL = "minillm/demo-model"
_WIDTH = 100

# The responder's answers: the first rule whose keyword is in the last user message wins.
_ANSWERS = (
    ("eat", "In Lisbon, have pasteis de nata warm from the oven in Belem, and grilled sardines in Alfama."),
    ("tip", "Buy a Viva Viagem card when you land: it covers the metro, the trams and the ferry across the Tagus."),
    ("louvre", "Hello! Skip the crowd at the Mona Lisa: start with the Winged Victory, then the Egyptian wing."),
    ("weather", "Lisbon in October: about 22 C in the afternoon, cooler evenings, and only a few rainy days."),
)
_FALLBACK = "Happy to help. Tell me a little more about what you enjoy and I will suggest a plan."


def _last_user_text(request: RecordedRequest) -> str:
    messages = request.json.get("messages") if isinstance(request.json, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _responder(request: RecordedRequest) -> Reply:
    """A travel guide with a few canned answers, for every request the demo does not script."""
    question = _last_user_text(request).lower()
    for keyword, answer in _ANSWERS:
        if keyword in question:
            return Reply.text(answer, chunk_size=6)
    return Reply.text(_FALLBACK, chunk_size=6)


class _Tour:
    """The demo's shared state: where it prints, the server, the generator and the client."""

    def __init__(self, out: TextIO, server: MockLLMServer, client: SyncClient) -> None:
        self.out = out
        self.server = server
        self.client = client
        self.gen = GeneratorInfo.openrouter(_MODEL).with_api_key("demo-key").with_base_url(server.openrouter_base_url)
        self.lisbon: ChatNode | None = None

    def write(self, text: str = "", *, indent: int = 2, wrap: bool = True) -> None:
        """Print ``text`` indented, long lines wrapped at spaces (unless ``wrap`` is off)."""
        pad = " " * indent
        for line in text.split("\n"):
            parts = [line]
            if wrap:
                width = _WIDTH - indent
                parts = textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False) or [""]
            for part in parts:
                self.out.write((pad + part).rstrip() + "\n")
        self.out.flush()

    def heading(self, title: str) -> None:
        self.out.write(f"\n== {title} ==\n")
        self.out.flush()

    def code(self, text: str) -> None:
        """A line of the Python that the step runs, shown as ``>>>``."""
        self.write(">>> " + text, wrap=False)


def _draw(node: ChatNode) -> list[str]:
    """The subtree under ``node``, one line per message, indented by depth."""
    lines = []
    base = node.depth()
    for each in node.iter_depth_first():
        text = (each.text or "").replace("\n", " ")
        if len(text) > 60:
            text = text[:57] + "..."
        lines.append(f"{'   ' * (each.depth() - base)}{each.role.value}: {text}")
    return lines


def _tree(t: _Tour) -> None:
    t.write("A conversation is a tree of ChatNodes; each path from the root is one thread sent to the model.")
    root = ChatNode.root("You are a concise travel guide.")
    question = root.add_user("Suggest a city for a weekend trip in autumn.")
    t.server.enqueue(
        Reply.text("Lisbon: mild sunshine, golden light and uncrowded trams in October."),
        Reply.text("Kyoto: the maple leaves turn red in November and the temples glow."),
    )
    t.code('question = ChatNode.root("You are a concise travel guide.").add_user("Suggest a city ...")')
    t.code("first = question.complete(gen); second = question.complete(gen)   # two replies, two branches")
    first = question.complete(t.gen, client=t.client)
    second = question.complete(t.gen, client=t.client)
    t.code('follow_up = first.chat("What should I eat there?", gen)')
    follow_up = first.chat("What should I eat there?", t.gen, client=t.client)
    t.lisbon = follow_up
    t.write()
    for line in _draw(root):
        t.write(line, indent=4)
    t.write()
    leaves = root.iter_leaves()
    t.write(f"root.iter_leaves() -> {len(leaves)} leaves, so {len(leaves)} threads:")
    for leaf in leaves:
        t.write(f"{len(leaf.thread())} messages ending in {leaf.text!r:.50}", indent=4)
    sent = t.server.last_request.json["messages"]
    kyoto = "Kyoto was in it too!" if any("Kyoto" in str(m) for m in sent) else "Kyoto was not in it."
    roles = ", ".join(m["role"] for m in sent)
    t.write(f"The follow-up request sent only its own branch ({len(sent)} messages: {roles}); {kyoto}")
    assert second.parent is question


def _streaming(t: _Tour) -> None:
    assert t.lisbon is not None
    t.write("complete_streaming sends the request and yields StreamChunks as the server sends them.")
    user = t.lisbon.add_user("Describe Lisbon in three short sentences.")
    text = (
        "Lisbon climbs seven hills above the Tagus river. Yellow trams rattle through narrow streets "
        "of tiled houses. Evenings end with fado music and a view from a miradouro."
    )
    t.server.enqueue(Reply.text(text, chunk_size=7, chunk_delay=0.015))
    t.code("with user.complete_streaming(gen) as stream:")
    t.code("    for chunk in stream: print(chunk.delta, end='', flush=True)")
    t.out.write("  ")
    deltas = []
    with user.complete_streaming(t.gen, client=t.client) as stream:
        for chunk in stream:
            if chunk.delta:
                deltas.append(chunk.delta)
                t.out.write(chunk.delta)
                t.out.flush()
        response = stream.response
    t.out.write("\n")
    reply = user.append_response(response)
    t.write(f"{len(deltas)} deltas arrived ({', '.join(repr(d) for d in deltas[:3])}, ...).")
    t.write(f"reply = user.append_response(stream.response) -> finish_reason {reply.metadata['finish_reason']!r}.")


def _templates(t: _Tour) -> None:
    t.write("Placeholders in a message are filled at request time; the stored text keeps them.")
    root = ChatNode.root("You are a {persona}. Answer in at most {limit} words.")
    root.set_format_kwargs({"persona": "cheerful museum guide", "limit": "25"})
    user = root.add_user("Greet me and tell me where to start in {museum}.")
    params = NodeCompletionParameters().with_format_kwarg("museum", "the Louvre")
    t.code('root.set_format_kwargs({"persona": "cheerful museum guide", "limit": "25"})')
    t.code('reply = user.complete(gen, NodeCompletionParameters().with_format_kwarg("museum", "the Louvre"))')
    reply = user.complete(t.gen, params, client=t.client)
    sent = t.server.last_request.json["messages"]
    t.write(f"stored:  {root.text!r}")
    t.write(f"         {user.text!r}")
    t.write(f"sent:    {sent[0]['content']!r}")
    t.write(f"         {sent[1]['content']!r}")
    t.write(f"reply:   {reply.text!r}")


def _json_repair(t: _Tour) -> None:
    t.write("Models often write almost-JSON. repair_json fixes it; expecting_json() does it to every reply.")
    broken = '{"city": "Lisbon", days: 3, "sights": ["Belem Tower", "Alfama",]'
    t.code(f"repair_json({broken!r})")
    t.write(repair_json(broken))
    user = ChatNode.root("Answer in JSON.").add_user("Plan three days in Lisbon as JSON.")
    messy = (
        "Sure! Here is your plan:\n```json\n"
        '{"city": "Lisbon", "days": [\n  {"day": 1, "see": "Alfama"},\n  {"day": 2, "see": "Belem"},\n'
        "  {'day': 3, 'see': 'Sintra'},\n]\n```"
    )
    t.server.enqueue(Reply.text(messy))
    t.code("reply = user.complete(gen, NodeCompletionParameters().expecting_json())")
    reply = user.complete(t.gen, NodeCompletionParameters().expecting_json(), client=t.client)
    t.write("the model wrote:")
    for line in messy.split("\n"):
        t.write(line, indent=6)
    t.write(f"reply.text: {reply.text}")
    plan = loads(reply.text or "")
    assert isinstance(plan, dict)
    t.write(f"loads(reply.text)['days'][2]['see'] -> {plan['days'][2]['see']!r}")


def _costs(t: _Tour) -> None:
    t.write("A TokenPrice (USD per million tokens) turns usage into dollars; CostInfo.resolution says how")
    t.write("far to trust the number: RESOLVED is real, UNPRICED means tokens are known but no price is.")
    priced = t.gen.with_token_price(TokenPrice(0.10, 0.40))
    seen: list[CostInfo] = []
    params = NodeCompletionParameters().with_cost_callback(seen.append)
    t.code("priced = gen.with_token_price(TokenPrice(0.10, 0.40))")
    t.code("user.complete(priced, NodeCompletionParameters().with_cost_callback(seen.append))")
    t.server.enqueue(Reply.text("Porto is a short train ride north: go for the port cellars.", usage=(1200, 85)))
    ChatNode.root("Be brief.").add_user("A day trip from Lisbon?").complete(priced, params, client=t.client)
    info = seen[0]
    t.write(
        f"callback got: {info.prompt_tokens} + {info.completion_tokens} tokens -> ${info.cost:.6f}, "
        f"{info.resolution.name}"
    )
    t.code("reply, info = user.complete_costed(gen)          # no price anywhere")
    t.server.enqueue(Reply.text("Sintra: palaces in the forest, 40 minutes by train.", usage=(1200, 60)))
    _, info = ChatNode.root("Be brief.").add_user("Another day trip?").complete_costed(t.gen, client=t.client)
    t.write(
        f"info: {info.total_tokens} tokens, cost {info.cost}, {info.resolution.name} "
        f"(known_cost is {info.known_cost}: not free, just not computed)"
    )
    t.server.enqueue(Reply.text("Cascais: beaches and a seaside walk.", usage=(1200, 40), cost=0.00042))
    _, info = ChatNode.root("Be brief.").add_user("One more?").complete_costed(t.gen, client=t.client)
    t.write(f"OpenRouter reports its own cost in usage.cost: ${info.cost:.5f}, {info.resolution.name}")
    _estimate_then_spend(t, priced)


def _estimate_then_spend(t: _Tour, priced: GeneratorInfo) -> None:
    t.write(
        "Before sending, estimate_cost counts the prompt and bounds the reply by max_tokens; a Budget refuses a "
        "request whose high estimate would go past what is left, before anything is sent."
    )
    budget = Budget(max_usd=0.0002)
    params = NodeCompletionParameters(params=CompletionParameters(max_tokens=120)).with_budget(budget)
    user = ChatNode.root("Be brief.").add_user("What should I eat in Evora?")
    t.code("params = NodeCompletionParameters(params=CompletionParameters(max_tokens=120)).with_budget(budget)")
    t.code("estimate = user.estimate_cost(priced, params)")
    estimate = user.estimate_cost(priced, params, client=t.client)
    assert estimate.low is not None and estimate.high is not None
    t.write(
        f"estimate: {estimate.input_tokens} input tokens ({estimate.method.value}), up to "
        f"{estimate.max_output_tokens} out: ${estimate.low:.7f} to ${estimate.high:.7f} ({estimate.price_source} price)"
    )
    t.code("reply, info = user.complete_costed(priced, params)")
    _, info = user.complete_costed(priced, params, client=t.client)
    inside = estimate.low <= info.cost <= estimate.high
    t.write(f"actual: {info.prompt_tokens} + {info.completion_tokens} tokens -> ${info.cost:.7f} (within it: {inside})")
    t.write(f"budget: ${budget.spent_usd:.7f} of ${budget.max_usd} spent")
    big = params.with_params(CompletionParameters(max_tokens=100_000))
    t.code("user.complete(priced, params.with_params(CompletionParameters(max_tokens=100_000)))")
    try:
        user.complete(priced, big, client=t.client)
    except BudgetExceededError as e:
        t.write(f"raised {type(e).__name__}: {e}")


def _retry(t: _Tour) -> None:
    t.write("A 429 (or 408, 5xx, a dropped connection) is retried; a Retry-After header sets the least wait.")
    user = ChatNode.root("Be brief.").add_user("Is it worth visiting Lisbon in winter?")
    limited = Reply.error(429, "Rate limit reached, slow down (scripted)", headers={"Retry-After": "1"})
    t.server.enqueue(limited)
    t.code("user.complete(gen, NodeCompletionParameters(retry=0))      # no retries")
    try:
        user.complete(t.gen, NodeCompletionParameters(retry=0), client=t.client)
    except MaxRetriesExceededError as e:
        error = e.last_error
        assert isinstance(error, RateLimitError)
        t.write(f"raised {type(e).__name__}; its last_error is {type(error).__name__}: status {error.status_code}, "
                f"retry_after={error.retry_after}")
    t.server.enqueue(limited, Reply.text("Yes: fewer crowds, low prices and 15 C afternoons."))
    before = len(t.server.requests)
    t.code("user.complete(gen, NodeCompletionParameters(retry=2, back_off_time=0.1))")
    start = time.monotonic()
    reply = user.complete(t.gen, NodeCompletionParameters(retry=2, back_off_time=0.1), client=t.client)
    waited = time.monotonic() - start
    attempts = len(t.server.requests) - before
    t.write(f"attempt 1: 429 with Retry-After: 1  ->  waited {waited:.1f} s  ->  attempt 2: 200")
    t.write(f"the server saw {attempts} requests for one completion; reply: {reply.text!r}")


def _save_load(t: _Tour) -> None:
    assert t.lisbon is not None
    t.write("save_thread writes the thread from the root to a node as JSON (atomically: a temporary file, then a")
    t.write("rename); from_thread_file reads it back as (root, leaf), ready to continue.")
    leaf = t.lisbon.get_leaf()
    with tempfile.TemporaryDirectory(prefix="minillm-demo-") as folder:
        path = os.path.join(folder, "lisbon.json")
        t.code(f"leaf.save_thread({path!r})")
        leaf.save_thread(path)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        first = data["prompts"][0]["message"]
        shape = '{"prompts": [{"message": ' + json.dumps(first) + ", ...}, ...]}"
        t.write(f"wrote {os.path.getsize(path)} bytes: {shape}")
        t.code("root, last = ChatNode.from_thread_file(path)")
        root, last = ChatNode.from_thread_file(path)
        same = [m.content for m in last.thread()] == [m.content for m in leaf.thread()]
        t.write(f"loaded {root.node_count()} messages, the same as saved: {same}")
        t.code('last.chat("Any tip for getting around?", gen)')
        reply = last.chat("Any tip for getting around?", t.gen, client=t.client)
        t.write(f"the conversation goes on: {reply.text!r}")


@attrs.define
class _Day:
    day: int
    see: str


@attrs.define
class _Plan:
    city: str
    days: list[_Day]


def _structured(t: _Tour) -> None:
    t.write("with_schema asks for a typed value: the reply is validated, and an invalid one is asked again,")
    t.write("the failed reply and the correction staying in the tree as a branch.", indent=2)
    t.code("@attrs.define class Plan: city: str; days: list[Day]")
    t.code("reply = user.complete(gen, NodeCompletionParameters().with_schema(Plan))")
    user = ChatNode.root("You plan trips.").add_user("Plan two days in Porto.")
    bad = {"city": "Porto", "days": [{"day": "one", "see": "Ribeira"}]}
    good = {"city": "Porto", "days": [{"day": 1, "see": "Ribeira"}, {"day": 2, "see": "Livraria Lello"}]}
    t.server.enqueue(Reply.json(bad), Reply.json(good))
    reply = user.complete(t.gen, NodeCompletionParameters().with_schema(_Plan), client=t.client)
    for line in _draw(user):
        t.write(line, indent=4, wrap=False)
    t.write(f"errors sent back: {user.children[0].metadata['schema_errors']}")
    t.write(f"reply.parsed -> {reply.parsed!r}")


def run_demo(out: TextIO) -> int:
    """Run every step of the tour, printing to ``out``; return the exit status (0)."""
    steps = (_tree, _streaming, _templates, _json_repair, _costs, _retry, _save_load, _structured)
    started = time.monotonic()
    with MockLLMServer() as server, SyncClient() as client:
        server.set_responder(_responder)
        tour = _Tour(out, server, client)
        out.write("minillm demo: a tour with no API key and no network.\n")
        tour.write(
            f"A local test server (minillm.testing.MockLLMServer) is listening on {server.url}; it speaks "
            "the OpenAI, OpenRouter and Anthropic wires. Every reply below comes from it over real HTTP, to:"
        )
        tour.code(f'gen = GeneratorInfo.openrouter("{_MODEL}").with_base_url("{server.openrouter_base_url}")')
        for title, step in zip(SECTIONS, steps, strict=True):
            tour.heading(title)
            step(tour)
        total = len(server.requests)
    out.write(f"\nDone: {len(steps)} steps, {total} requests, {time.monotonic() - started:.1f} s.\n")
    tour.write('To talk to a real model, set OPENROUTER_API_KEY and run:  minillm chat "Hello!"', indent=0)
    tour.write("Other providers and options: minillm chat --help", indent=0)
    return 0
