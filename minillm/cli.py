"""The ``minillm`` command: ``chat`` with a model, ``repair-json`` a file, or take the offline ``demo`` tour.

``main(argv)`` is the console script (and ``python -m minillm``). A user's mistake (a bad flag, an unreadable
file, a missing key, an unknown provider) prints one line to stderr and exits non-zero, never a traceback:
2 for a malformed command line, 1 for everything else, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from minillm.core.budget import Budget, CostEstimate
from minillm.core.errors import ConfigurationError, JSONRepairError, MiniLLMError
from minillm.core.generator import GeneratorInfo
from minillm.core.jsonfix import repair_json
from minillm.core.params import CompletionParameters, NodeCompletionParameters
from minillm.core.tree import ChatNode
from minillm.core.usage import CostInfo, CostResolution
from minillm.transport import SyncClient

__all__ = ["main"]

PROG = "minillm"
DEFAULT_MODEL = "openrouter:google/gemini-2.5-flash-lite"
MODEL_ENV = "MINILLM_MODEL"
EXIT_PROMPT = "/exit"

_PROVIDERS: dict[str, Callable[[str], GeneratorInfo]] = {
    "openrouter": GeneratorInfo.openrouter,
    "openai": GeneratorInfo.openai,
    "anthropic": GeneratorInfo.anthropic,
    "claude": GeneratorInfo.claude_subscription,
}
_CUSTOM = "custom"
_PROVIDER_NAMES = ", ".join([*_PROVIDERS, _CUSTOM])
# The native Anthropic wire has no response_format: --json there relies on the repair alone.
_NO_RESPONSE_FORMAT = frozenset({"anthropic", "claude"})


_CHAT_EPILOG = f"""\
providers (keys come from the environment, or a .env file in this folder or above):
  openrouter   OPENROUTER_API_KEY
  openai       OPENAI_API_KEY
  anthropic    ANTHROPIC_API_KEY
  claude       a Claude subscription: ANTHROPIC_AUTH_TOKEN, else Claude Code's login
  custom       any OpenAI-compatible server at --base-url (no key)

examples:
  minillm chat "Hello!" --model {DEFAULT_MODEL}
  minillm chat --model anthropic:claude-sonnet-4-5 --save trip.json
  minillm chat "And tomorrow?" --load trip.json --save trip.json
  minillm chat "List 3 colours as JSON" --json --model openai:gpt-4o-mini
  minillm chat "Hi" --model custom:llama3 --base-url http://localhost:8000/v1
"""


class _UsageError(Exception):
    """A malformed command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that an error is one line pointing at ``--help`` instead of usage plus a message."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


# ----- the command line ---------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minillm-sdk")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _model_spec(value: str) -> tuple[str, str]:
    """``PROVIDER:MODEL`` split in two; argparse turns the error into a usage error."""
    provider, sep, model = value.partition(":")
    provider = provider.strip().lower()
    if not sep or not model.strip():
        raise argparse.ArgumentTypeError(
            f"expected PROVIDER:MODEL (e.g. {DEFAULT_MODEL}), got {value!r}; providers: {_PROVIDER_NAMES}"
        )
    if provider not in _PROVIDERS and provider != _CUSTOM:
        raise argparse.ArgumentTypeError(f"unknown provider {provider!r}; choose one of {_PROVIDER_NAMES}")
    return provider, model.strip()


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _temperature(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 2.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 2, got {value!r}")
    return number


def _usd(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected an amount of US dollars, 0 or more, got {value!r}")
    return number


def _build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="minillm: conversations with large language models, from the command line.",
        epilog="Start with 'minillm demo' (no key needed). Each command has its own --help.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    chat = commands.add_parser(
        "chat",
        help="talk to a model: one question, or an interactive session",
        description=(
            "Talk to a model. With PROMPT: ask it once, stream the reply, exit. Without: an\n"
            f"interactive session, one message per line of stdin ('{EXIT_PROMPT}' or the end of input\n"
            "ends it). The reply goes to stdout as it arrives; its cost, when known, to stderr."
        ),
        epilog=_CHAT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", nargs="?", metavar="PROMPT", help="ask this once and exit (omit for a session)")
    chat.add_argument(
        "-m",
        "--model",
        type=_model_spec,
        default=None,
        metavar="PROVIDER:MODEL",
        help=f"which model to ask (default: ${MODEL_ENV}, else {DEFAULT_MODEL})",
    )
    chat.add_argument("-s", "--system", metavar="TEXT", help="the system prompt")
    chat.add_argument("-t", "--temperature", type=_temperature, metavar="X", help="sampling temperature, 0 to 2")
    chat.add_argument("--max-tokens", type=_positive_int, metavar="N", help="the longest reply, in tokens")
    chat.add_argument(
        "--json", action="store_true", help="ask for JSON and print it repaired (printed whole, not streamed)"
    )
    chat.add_argument("--save", metavar="FILE", help="write the conversation to FILE after each reply")
    chat.add_argument("--load", metavar="FILE", help="continue the conversation saved in FILE")
    chat.add_argument("--base-url", metavar="URL", help="send requests to this address instead of the provider's")
    chat.add_argument(
        "--estimate", action="store_true", help="print what each request may cost (to stderr) before sending it"
    )
    chat.add_argument(
        "--budget", type=_usd, metavar="USD", help="refuse any request that could take the session past USD dollars"
    )
    chat.set_defaults(handler=_run_chat)

    models = commands.add_parser(
        "models",
        help="list the models of the price catalog, with context lengths and prices",
        description=(
            "List the models in OpenRouter's public models list (fetched once, then read from the cache for a day; "
            "a stale copy is used when offline), with their context length and prices in USD per million tokens."
        ),
        epilog="Example: minillm models --search claude",
    )
    models.add_argument("--search", metavar="WORD", help="only models whose id or name contains WORD")
    models.add_argument("--refresh", action="store_true", help="fetch the list again even if the cache is fresh")
    models.add_argument(
        "--base-url", metavar="URL", help="an OpenRouter-compatible API whose /models to read (default: OpenRouter)"
    )
    models.set_defaults(handler=_run_models)

    demo = commands.add_parser(
        "demo",
        help="a tour of minillm against a local test server (no key, no network)",
        description=(
            "Start minillm's local test server on a free loopback port and walk through a conversation tree, "
            "streaming, templates, JSON repair, cost tracking, a retry after a 429, and saving a thread."
        ),
    )
    demo.set_defaults(handler=_run_demo)

    repair = commands.add_parser(
        "repair-json",
        help="repair almost-JSON (trailing commas, quotes, fences ...) into valid JSON",
        description=(
            "Read FILE (or stdin) and print it as valid, compact JSON. Text with no JSON in it prints an empty "
            "line. Exit 1 when the input cannot be read or repaired."
        ),
        epilog="""Example: echo '{"key": "value",}' | minillm repair-json""",
    )
    repair.add_argument("file", nargs="?", metavar="FILE", help="the file to repair (default: stdin)")
    repair.set_defaults(handler=_run_repair_json)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minillm`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    parser = _build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help and --version print, then "exit"
            return e.code if isinstance(e.code, int) else 0
        if args.command is None:
            raise _UsageError(f"{PROG}: error: name a command: chat, models, demo or repair-json (try '{PROG} demo')")
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except _UsageError as e:
        _say(sys.stderr, str(e))
        return 2
    except KeyboardInterrupt:
        _say(sys.stderr, "")
        return 130
    except BrokenPipeError:
        # The reader went away (`minillm demo | head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def _error(text: str) -> None:
    _say(sys.stderr, f"{PROG}: error: {text}")


# ----- repair-json: the file (or stdin) repaired to JSON on stdout ------------------------------------------


def _run_repair_json(args: argparse.Namespace) -> int:
    path: str | None = args.file
    if path is None:
        if sys.stdin.isatty():
            _say(sys.stderr, "(reading JSON from stdin; end it with Ctrl-D)")
        try:
            text = sys.stdin.read()
        except (OSError, UnicodeDecodeError) as e:
            _say(sys.stderr, f"Error reading stdin: {e}")
            return 1
    else:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            _say(sys.stderr, f"Error reading file: {path}: {e.strerror or e}")
            return 1
        except UnicodeDecodeError as e:
            _say(sys.stderr, f"Error reading file: {path}: not UTF-8 text ({e.reason} at byte {e.start})")
            return 1
    try:
        repaired = repair_json(text)
    except JSONRepairError as e:
        _say(sys.stderr, f"Error repairing JSON: {e}")
        return 1
    _say(sys.stdout, repaired)
    return 0


# ----- demo ---------------------------------------------------------------------------------------------


def _run_demo(args: argparse.Namespace) -> int:
    from minillm._demo import run_demo  # deferred: only the demo needs the test server

    try:
        return run_demo(sys.stdout)
    except MiniLLMError as e:
        _error(f"the demo failed: {e}")
        return 1


# ----- chat ---------------------------------------------------------------------------------------------


def _generator(args: argparse.Namespace) -> tuple[str, GeneratorInfo]:
    """The provider name and generator the flags ask for."""
    spec: tuple[str, str] | None = args.model
    if spec is None:
        from_env = os.environ.get(MODEL_ENV)
        try:
            spec = _model_spec(from_env) if from_env else _model_spec(DEFAULT_MODEL)
        except argparse.ArgumentTypeError as e:
            raise _UsageError(f"{PROG} chat: error: ${MODEL_ENV}: {e}") from e
    provider, model = spec
    base_url: str | None = args.base_url
    if provider == _CUSTOM:
        if base_url is None:
            raise _UsageError(
                f"{PROG} chat: error: the custom provider needs --base-url URL "
                "(the server's OpenAI-compatible address, e.g. http://localhost:8000/v1)"
            )
        return provider, GeneratorInfo.custom("custom", base_url, model)
    generator = _PROVIDERS[provider](model)
    if base_url is not None:
        generator = generator.with_base_url(base_url)
    return provider, generator


def _node_params(args: argparse.Namespace, provider: str, loaded: bool) -> NodeCompletionParameters:
    params: CompletionParameters | None = None
    if args.temperature is not None or args.max_tokens is not None or args.json:
        # Start from "nothing set", so the generator's defaults stay for what the flags leave out.
        params = CompletionParameters(max_tokens=None, temperature=None)
        if args.temperature is not None:
            params = params.with_temperature(args.temperature)
        if args.max_tokens is not None:
            params = params.with_max_tokens(args.max_tokens)
        if args.json and provider not in _NO_RESPONSE_FORMAT:
            params = params.with_json_response()
    return NodeCompletionParameters(
        params=params,
        # A fresh conversation keeps --system as its root (so it is saved); a loaded one has its own,
        # which --system then overrides for each request.
        system_prompt=args.system if loaded else None,
        parse_json=bool(args.json),
        track_cost=True,
    )


def _cost_line(info: CostInfo) -> str:
    if info.resolution is CostResolution.RESOLVED:
        amount = f"{info.cost:.6f}" if info.cost == 0 or info.cost >= 1e-6 else f"{info.cost:.2e}"
        return f"[cost: ${amount}, {info.total_tokens} tokens]"
    if info.resolution is CostResolution.UNPRICED:
        return f"[{info.total_tokens} tokens; no price known, so no cost]"
    return "[cost unknown: the server reported no token usage]"


def _money(amount: float) -> str:
    return f"{amount:.6f}" if amount == 0 or amount >= 1e-6 else f"{amount:.2e}"


def _estimate_line(estimate: CostEstimate) -> str:
    counted = f"{estimate.input_tokens} input tokens ({estimate.method.value})"
    if estimate.low is None:
        return f"[estimate: {counted}; no price known, so no cost]"
    high = "no upper bound (set --max-tokens)" if estimate.high is None else f"${_money(estimate.high)}"
    source = f"{estimate.price_source} price" + (f" of {estimate.price_date}" if estimate.price_date else "")
    return f"[estimate: ${_money(estimate.low)} to {high}, {counted}, {source}]"


class _Session:
    """One conversation: each turn adds the user's text under the current leaf and the reply under it."""

    def __init__(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters,
        leaf: ChatNode | None,
        *,
        client: SyncClient,
        save: str | None,
        as_json: bool,
    ) -> None:
        self.generator = generator
        self.params = params
        self.leaf = leaf
        self.client = client
        self.save = save
        self.as_json = as_json
        self.estimate = False

    def turn(self, text: str) -> None:
        """Ask once, print the reply (streamed) and its cost, save if asked. A failed turn leaves no trace
        in the conversation."""
        user = self.leaf.add_user(text) if self.leaf is not None else ChatNode.user(text)
        try:
            if self.estimate:
                _say(sys.stderr, _estimate_line(user.estimate_cost(self.generator, self.params, client=self.client)))
            reply, cost = self._ask_json(user) if self.as_json else self._ask_streaming(user)
        except BaseException:
            if self.leaf is not None:
                user.detach()
            raise
        self.leaf = reply
        _say(sys.stderr, _cost_line(cost))
        budget = self.params.budget
        if budget is not None and budget.max_usd is not None:
            _say(sys.stderr, f"[budget: ${budget.spent_usd:.6f} of ${budget.max_usd:g} spent]")
        if self.save is not None:
            reply.save_thread(self.save)

    def _ask_json(self, user: ChatNode) -> tuple[ChatNode, CostInfo]:
        reply, cost = user.complete_costed(self.generator, self.params, client=self.client)
        _say(sys.stdout, reply.text or "")
        return reply, cost

    def _ask_streaming(self, user: ChatNode) -> tuple[ChatNode, CostInfo]:
        out = sys.stdout
        at_line_start = True
        try:
            with user.complete_streaming(self.generator, self.params, client=self.client) as stream:
                for chunk in stream:
                    if chunk.delta:
                        out.write(chunk.delta)
                        out.flush()
                        at_line_start = chunk.delta.endswith("\n")
                response = stream.response
                cost = stream.cost()
        finally:
            if not at_line_start:
                _say(out, "")
        return user.append_response(response), cost

    def interactive(self, stdin: TextIO) -> int:
        """Read one message per line until ``/exit`` or the end of input; 1 if any turn failed."""
        tty = stdin.isatty()
        if tty:
            model = f"{self.generator.name} {self.generator.model}"
            _say(sys.stderr, f"Chatting with {model}. End with {EXIT_PROMPT} or Ctrl-D.")
        failed = False
        while True:
            line = _read_line(stdin, tty)
            if line is None:
                break
            text = line.strip()
            if not text:
                continue
            if text == EXIT_PROMPT:
                break
            try:
                self.turn(text)
            except KeyboardInterrupt:
                if not tty:
                    raise
                _say(sys.stderr, "[reply interrupted]")  # Ctrl-C stops this reply, not the session
            except ConfigurationError:
                raise  # a missing key or the like: no later turn can succeed either
            except MiniLLMError as e:
                _error(str(e))
                failed = True
        return 1 if failed else 0


def _read_line(stdin: TextIO, tty: bool) -> str | None:
    """The next line of input (with a ``you>`` prompt on a terminal), or None at the end of input."""
    if tty:
        try:
            return input("you> ")
        except EOFError:
            _say(sys.stdout, "")
            return None
    line = stdin.readline()
    return line or None


def _run_chat(args: argparse.Namespace) -> int:
    try:
        provider, generator = _generator(args)
        # Resolve the credential now, so a missing key is reported before anyone types a message.
        generator.auth.resolve()
        leaf: ChatNode | None = None
        loaded = args.load is not None
        if loaded:
            try:
                _, leaf = ChatNode.from_thread_file(args.load)
            except MiniLLMError as e:
                _error(f"cannot continue the conversation in {args.load}: {e}")
                return 1
        elif args.system is not None:
            leaf = ChatNode.root(args.system)
        params = _node_params(args, provider, loaded)
        if args.budget is not None:
            params = params.with_budget(Budget(max_usd=args.budget))
        with SyncClient() as client:
            session = _Session(generator, params, leaf, client=client, save=args.save, as_json=bool(args.json))
            session.estimate = bool(args.estimate)
            if args.prompt is not None:
                session.turn(args.prompt)
                return 0
            return session.interactive(sys.stdin)
    except MiniLLMError as e:
        _error(str(e))
        return 1


# ----- models -------------------------------------------------------------------------------------------


def _per_mtok(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _run_models(args: argparse.Namespace) -> int:
    from minillm.core.catalog import OPENROUTER_MODELS_URL, catalog_flow
    from minillm.core.seam import run_flow

    url = OPENROUTER_MODELS_URL if args.base_url is None else args.base_url.rstrip("/") + "/models"
    with SyncClient() as client:
        catalog = run_flow(catalog_flow(url, refresh=bool(args.refresh)), client)
    if catalog is None:
        _error(f"could not fetch the models list from {url}, and there is no cached copy; check the network")
        return 1
    note = " (stale: a fresh copy could not be fetched)" if catalog.stale else ""
    _say(sys.stderr, f"[{len(catalog.search())} models from {url}, fetched {_age(catalog.age())} ago{note}]")
    found = catalog.search(args.search)
    if not found:
        _say(sys.stderr, f"no model matches {args.search!r}")
        return 1
    seen: set[str] = set()
    rows = [("model", "context", "input $/Mtok", "output $/Mtok", "cache read $/Mtok")]
    for model in found:
        if model.id in seen:
            continue
        seen.add(model.id)
        price = model.price
        rows.append(
            (
                model.id,
                "-" if model.context_length is None else str(model.context_length),
                _per_mtok(None if price is None else price.input_per_mtok),
                _per_mtok(None if price is None else price.output_per_mtok),
                _per_mtok(None if price is None else price.cache_read_per_mtok),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        _say(sys.stdout, "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0
