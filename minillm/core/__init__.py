"""The sans-IO core: data types, the conversation tree, wire formats and the completion flow.

Nothing in here opens a socket, imports httpx or asyncio, or sleeps; the transports do that.
"""
