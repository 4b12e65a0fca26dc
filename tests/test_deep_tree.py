"""A chain 100,000 nodes deep: every tree operation and a save/load round trip, with no recursion."""

from __future__ import annotations

from pathlib import Path

import pytest

from minillm import ChatNode, format_conversation, pretty_messages

DEPTH = 100_000


@pytest.fixture(scope="module")
def chain() -> tuple[ChatNode, ChatNode]:
    root = ChatNode.root("system {n}").set_format_kwarg("n", "0")
    leaf = root
    for i in range(1, DEPTH):
        leaf = leaf.add_user(f"m{i}") if i % 2 else leaf.add_assistant(f"m{i}")
    return root, leaf


def test_navigation(chain: tuple[ChatNode, ChatNode]) -> None:
    root, leaf = chain
    assert leaf.get_root() is root
    assert root.get_leaf() is leaf
    assert leaf.depth() == DEPTH - 1
    assert len(leaf.thread()) == DEPTH
    assert len(leaf.merged_thread()) == DEPTH  # roles alternate below the root: nothing merges
    assert leaf.formatted_thread()[0].text == "system 0"
    assert len(leaf.formatted_thread_with_base({"x": "y"})) == DEPTH
    assert root.find_by_id(leaf.id) is leaf
    assert "depth=99999" in repr(leaf)
    assert "earlier messages not shown" in leaf._repr_markdown_()


def test_iteration(chain: tuple[ChatNode, ChatNode]) -> None:
    root, leaf = chain
    assert root.node_count() == DEPTH
    dfs = root.iter_depth_first()
    assert len(dfs) == DEPTH and dfs[0] is root and dfs[-1] is leaf
    bfs = root.iter_breadth_first()
    assert len(bfs) == DEPTH and bfs[-1] is leaf
    assert root.iter_leaves() == [leaf]


def test_cache_marks_and_pretty_print(chain: tuple[ChatNode, ChatNode]) -> None:
    root, leaf = chain
    leaf.cache_breakpoint()
    root.cache_breakpoint()
    leaf.clear_all_cache_breakpoints()
    assert not leaf.is_cache_breakpoint() and not root.is_cache_breakpoint()
    text = format_conversation(leaf)
    assert text.startswith("SYSTEM: system 0\n\nUSER: m1\n\nASSISTANT: m2")
    assert text.endswith(f"m{DEPTH - 1}")
    assert pretty_messages(leaf) == text


def test_clone_and_copy_across_trees(chain: tuple[ChatNode, ChatNode]) -> None:
    root, leaf = chain
    clone = leaf.clone_tree()
    assert clone.depth() == DEPTH - 1 and clone.get_root() is not root
    assert clone.get_root().node_count() == DEPTH
    other = ChatNode.root("other")
    copy = other.add_child(root)  # a whole deep tree copied under another tree
    assert other.node_count() == DEPTH + 1 and copy.get_leaf().depth() == DEPTH
    merged_tip = ChatNode.root("third").merge(leaf)
    assert merged_tip.depth() == DEPTH and merged_tip.text == leaf.text


def test_detach_and_reattach_deep(chain: tuple[ChatNode, ChatNode]) -> None:
    root, leaf = chain
    middle = leaf
    for _ in range(DEPTH // 2):
        assert middle.parent is not None
        middle = middle.parent
    parent = middle.parent
    assert parent is not None
    kept = middle.depth()
    middle.detach()
    assert root.node_count() == kept and middle.get_leaf() is leaf
    assert middle.node_count() == DEPTH - kept
    assert parent.add_child(middle) is middle
    assert root.node_count() == DEPTH and leaf.get_root() is root


def test_save_and_load_round_trip(chain: tuple[ChatNode, ChatNode], tmp_path: Path) -> None:
    _, leaf = chain
    path = tmp_path / "deep.json"
    leaf.save_thread(path)
    loaded_root, loaded_leaf = ChatNode.from_thread_file(path)
    assert loaded_root.node_count() == DEPTH and loaded_leaf.depth() == DEPTH - 1
    assert loaded_root.get_format_kwargs() == {"n": "0"}
    assert loaded_leaf.text == leaf.text
    assert [m.text for m in loaded_leaf.thread()[:3]] == ["system {n}", "m1", "m2"]
    root2, leaf2 = ChatNode.from_messages(leaf.thread())
    assert leaf2.depth() == DEPTH - 1 and root2.get_leaf() is leaf2
