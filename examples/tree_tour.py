"""A tour of minillm's conversation trees, offline: branching, templates, save/load, pretty printing.

Run it with ``python examples/tree_tour.py``; it needs no key and no network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from minillm import ChatNode, ConversationBuilder, format_conversation


def main() -> None:
    # A tree: one system prompt, two branches that share it.
    root = ChatNode.root("You are {persona}, a concise assistant.").set_format_kwarg("persona", "Ada")
    question = root.add_user("What is a binary tree?")
    short = question.add_assistant("A tree where each node has at most two children.")
    question.add_assistant("A hierarchical structure in which every node has a left and a right child slot.")
    follow_up = short.add_user("And a balanced one?")

    print("== the conversation along one branch ==")
    print(format_conversation(follow_up))
    print(f"\nnodes in the tree: {root.node_count()}, leaves: {len(root.iter_leaves())}, "
          f"depth of the follow-up: {follow_up.depth()}")

    # Save the thread (root to follow-up) and load it back.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thread.json"
        follow_up.save_thread(path)
        loaded_root, loaded_leaf = ChatNode.from_thread_file(path)
        print(f"\n== saved {path.stat().st_size} bytes and loaded back {loaded_root.node_count()} nodes ==")
        print(format_conversation(loaded_leaf))

    # Graft another conversation under this one.
    side = ConversationBuilder("You are a poet.").user("A haiku about trees?").assistant("Roots hold the quiet.")
    tip = follow_up.merge(side.build())
    print(f"\n== after merging a second conversation: {root.node_count()} nodes, tip depth {tip.depth()} ==")


if __name__ == "__main__":
    main()
