"""The sans-IO core: data types, the conversation tree, wire formats and the completion flow.

Nothing in here opens a socket, imports httpx or asyncio, or sleeps; the transports do that (and
tests/test_layering.py fails the build if a core module imports one).

What you may build on:

- ``minillm.core.providers``: the front door for writing a wire of your own. It re-exports the ``Provider``
  protocol, ``OpenAIDialect`` to subclass, the values a wire trades in (``WireRequest``, ``StreamEnd``,
  ``ResolvedCredential``, ``ServerSentEvent``), ``join_url`` and the built-in wires. Import from it, not
  from the modules behind it.
- The public names of ``minillm`` itself. Many live in core modules (``errors``, ``media``, ``messages``,
  ``params``, ``response``, ``tools``, ``tree``, ``usage``, ...), but import them from ``minillm``.

Internal, and free to change in any release: every other module and name here, among them ``flow`` (one
request's decisions), ``seam`` (where the tree finds its client), ``http``, ``sse``, ``stream``'s parser and
accumulator, ``retry``, ``auth``, ``threads``, ``templates``, the modules behind ``providers``, and the
private ``_``-prefixed ones.
"""
