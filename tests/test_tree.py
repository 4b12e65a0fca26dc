"""The conversation tree through the public API: building, navigating, moving, copying, iterating."""

from __future__ import annotations

import pytest

from minillm import ChatNode, ConversationBuilder, InvalidParameterError, Message, Role


def texts(nodes: list[ChatNode]) -> list[str | None]:
    return [n.text for n in nodes]


def test_root_and_children_chain() -> None:
    root = ChatNode.root("You are helpful.")
    user = root.add_user("Hello")
    reply = user.add_assistant("Hi!")
    assert root.role is Role.SYSTEM and user.role is Role.USER and reply.role is Role.ASSISTANT
    assert reply.parent is user and user.parent is root and root.parent is None
    assert root.children == [user]
    assert root.is_root() and not user.is_root()
    assert reply.is_leaf() and not user.is_leaf()
    assert [m.text for m in reply.thread()] == ["You are helpful.", "Hello", "Hi!"]
    assert reply.get_root() is root
    assert reply.depth() == 2 and root.depth() == 0


def test_standalone_constructors_and_ids() -> None:
    u = ChatNode.user("question")
    a = ChatNode.assistant("answer")
    n = ChatNode(Message.user("x"))
    assert u.role is Role.USER and a.role is Role.ASSISTANT and n.text == "x"
    assert len({u.id, a.id, n.id}) == 3
    with pytest.raises(InvalidParameterError):
        ChatNode("plain text")  # type: ignore[arg-type]


def test_children_list_is_a_copy() -> None:
    root = ChatNode.root("s")
    root.add_user("a")
    root.children.append(ChatNode.user("sneaky"))
    assert root.node_count() == 2


def test_tool_result_and_tool_calls() -> None:
    root = ChatNode.root("s")
    result = root.add_tool_result("call_1", "42")
    assert result.role is Role.TOOL and result.message.tool_call_id == "call_1"
    assert root.tool_calls is None
    with pytest.raises(InvalidParameterError):
        root.add_tool_result("", "x")


def test_get_leaf_follows_last_child() -> None:
    root = ChatNode.root("s")
    root.add_user("first").add_assistant("first reply")
    second = root.add_user("second")
    deep = second.add_assistant("second reply")
    assert root.get_leaf() is deep
    assert deep.get_leaf() is deep
    assert root.last_child() is second and deep.last_child() is None
    assert root.child_count() == 2


def test_find_by_id_searches_only_the_subtree() -> None:
    root = ChatNode.root("s")
    a = root.add_user("a")
    b = root.add_user("b")
    a1 = a.add_assistant("a1")
    assert root.find_by_id(a1.id) is a1
    assert a.find_by_id(a1.id) is a1
    assert b.find_by_id(a1.id) is None
    assert root.find_by_id("nope") is None


def build_example_tree() -> tuple[ChatNode, dict[str, ChatNode]]:
    """root→[c1→gc1, c2, c3→gc2, c4, c5] (the tree every iteration test walks)."""
    root = ChatNode.root("root")
    nodes = {"root": root}
    for name in ("c1", "c2", "c3", "c4", "c5"):
        nodes[name] = root.add_user(name)
    nodes["gc1"] = nodes["c1"].add_assistant("gc1")
    nodes["gc2"] = nodes["c3"].add_assistant("gc2")
    return root, nodes


def test_iteration_orders() -> None:
    root, _ = build_example_tree()
    assert texts(root.iter_depth_first()) == ["root", "c1", "gc1", "c2", "c3", "gc2", "c4", "c5"]
    assert texts(root.iter_breadth_first()) == ["root", "c1", "c2", "c3", "c4", "c5", "gc1", "gc2"]
    assert texts(root.iter_leaves()) == ["gc1", "c2", "gc2", "c4", "c5"]
    assert root.node_count() == 8


def test_iteration_of_a_subtree() -> None:
    _, nodes = build_example_tree()
    assert texts(nodes["c3"].iter_depth_first()) == ["c3", "gc2"]
    assert nodes["c3"].node_count() == 2
    assert texts(nodes["c2"].iter_leaves()) == ["c2"]


def test_detach_makes_a_root_and_keeps_the_subtree() -> None:
    root = ChatNode.root("s")
    a = root.add_user("a")
    a1 = a.add_assistant("a1")
    assert a.detach() is a
    assert a.parent is None and root.children == []
    assert a1.get_root() is a and a.node_count() == 2
    assert root.detach() is root  # detaching a root changes nothing
    assert root.node_count() == 1


def test_detach_then_reattach_moves_the_same_node() -> None:
    root = ChatNode.root("s")
    a = root.add_user("a")
    a1 = a.add_assistant("a1")
    root.add_user("b")
    a1.detach()
    moved = root.add_child(a1)
    assert moved is a1 and a1.parent is root
    assert root.child_count() == 3
    assert a.children == []


def test_add_child_within_a_tree_moves() -> None:
    root = ChatNode.root("s")
    a = root.add_user("a")
    b = root.add_user("b")
    a1 = a.add_assistant("a1")
    a1.add_user("deeper")
    same_id = a1.id
    assert b.add_child(a1) is a1
    assert a1.parent is b and a.children == [] and b.children == [a1]
    assert a1.id == same_id and a1.node_count() == 2


def test_add_child_refuses_cycles() -> None:
    root = ChatNode.root("s")
    a = root.add_user("a")
    a1 = a.add_assistant("a1")
    with pytest.raises(InvalidParameterError, match="cycle"):
        a1.add_child(root)
    with pytest.raises(InvalidParameterError, match="cycle"):
        a1.add_child(a)
    with pytest.raises(InvalidParameterError, match="cycle"):
        a.add_child(a)
    assert a1.parent is a and root.node_count() == 3


def test_add_child_from_another_tree_copies_the_subtree_not_the_ancestors() -> None:
    left = ChatNode.root("left")
    other = ChatNode.root("other root")
    branch = other.add_user("branch")
    branch.add_assistant("leaf").set_format_kwarg("k", "v").set_metadata("m", 1).cache_breakpoint()
    copy = left.add_child(branch)
    assert copy is not branch and copy.id != branch.id
    assert copy.parent is left and copy.text == "branch"
    assert texts(left.iter_depth_first()) == ["left", "branch", "leaf"]
    leaf_copy = copy.children[0]
    assert leaf_copy.get_format_kwarg("k") == "v"
    assert leaf_copy.metadata == {"m": 1}
    assert leaf_copy.is_cache_breakpoint()
    # the original is untouched
    assert branch.parent is other and other.node_count() == 3
    # and the copy is independent
    leaf_copy.set_format_kwarg("k", "changed")
    leaf_copy.metadata["m"] = 2
    assert branch.children[0].get_format_kwarg("k") == "v" and branch.children[0].metadata == {"m": 1}
    # the copy belongs to its new tree: moving it within that tree keeps its identity
    assert left.add_child(leaf_copy) is leaf_copy


def test_merge_other_tree_counts() -> None:
    root1 = ChatNode.root("System 1")
    u1 = root1.add_user("User 1")
    root2 = ChatNode.root("System 2")
    a2 = root2.add_user("User 2").add_assistant("Assistant 2")
    merged = u1.merge(a2)
    assert merged.text == "Assistant 2" and merged.id != a2.id
    assert root1.node_count() == 5
    assert merged.get_root() is root1
    assert [m.text for m in merged.thread()] == ["System 1", "User 1", "System 2", "User 2", "Assistant 2"]
    assert root2.node_count() == 3
    third = ChatNode.root("System 3")
    third.add_user("User 3")
    again = merged.merge(third)
    assert root1.node_count() == 7 and again.depth() == 6


def test_merge_same_tree_fails_but_detached_part_moves() -> None:
    root = ChatNode.root("s")
    user = root.add_user("u")
    with pytest.raises(InvalidParameterError):
        user.merge(root)
    ok = user.merge(ChatNode.root("other"))
    assert ok.text == "other" and ok.parent is user
    side = root.add_user("side")
    side_child = side.add_assistant("side child")
    side.detach()
    tip = user.merge(side_child)  # side is a detached part of the same tree: moved, not copied
    assert tip is side_child and side.parent is user


def test_clone_tree_copies_everything_independently() -> None:
    root, nodes = build_example_tree()
    nodes["gc2"].set_format_kwarg("x", "1").cache_breakpoint().set_metadata("k", [1, 2])
    clone_of_gc2 = nodes["gc2"].clone_tree()
    clone_root = clone_of_gc2.get_root()
    assert clone_root is not root
    assert texts(clone_root.iter_depth_first()) == texts(root.iter_depth_first())
    assert {n.id for n in clone_root.iter_depth_first()}.isdisjoint({n.id for n in root.iter_depth_first()})
    assert clone_of_gc2.text == "gc2"
    assert clone_of_gc2.get_format_kwarg("x") == "1" and clone_of_gc2.is_cache_breakpoint()
    assert clone_of_gc2.metadata == {"k": [1, 2]}
    clone_of_gc2.set_format_kwarg("x", "2")
    clone_of_gc2.add_user("only in the clone")
    assert nodes["gc2"].get_format_kwarg("x") == "1" and nodes["gc2"].is_leaf()
    # a clone is a new tree: adding an original node to it copies
    assert clone_root.add_child(nodes["c2"]) is not nodes["c2"]


def test_phantom_node_knows_its_parent_but_is_not_listed() -> None:
    from minillm.core.response import CompletionResponse

    root = ChatNode.root("s")
    user = root.add_user("u")
    phantom = user._add_response(CompletionResponse(id="r1", model="m", content="hidden"), "hidden", register=False)
    assert phantom.parent is user and phantom.get_root() is root
    assert [m.text for m in phantom.thread()] == ["s", "u", "hidden"]
    assert user.is_leaf() and user.children == [] and root.node_count() == 2
    # clone_tree from the phantom includes it, still as a phantom
    clone = phantom.clone_tree()
    assert clone.text == "hidden" and clone.parent is not None and clone.parent.is_leaf()
    # a phantom moved with add_child becomes a registered child
    other = root.add_user("other")
    assert other.add_child(phantom) is phantom and other.children == [phantom]


def test_append_response_sets_metadata() -> None:
    from minillm.core.response import CompletionResponse
    from minillm.core.tools import ToolCall
    from minillm.core.usage import Usage

    user = ChatNode.root("s").add_user("u")
    response = CompletionResponse(
        id="gen-1",
        model="m-1",
        content="answer",
        finish_reason="stop",
        usage=Usage(uncached_input_tokens=3, completion_tokens=2),
        tool_calls=[ToolCall("c1", "lookup", '{"q": 1}')],
    )
    reply = user.append_response(response)
    assert reply.parent is user and user.children == [reply]
    assert reply.text == "answer" and reply.role is Role.ASSISTANT
    assert reply.tool_calls == [ToolCall("c1", "lookup", '{"q": 1}')]
    assert reply.metadata["response_id"] == "gen-1" and reply.metadata["model"] == "m-1"
    assert reply.metadata["finish_reason"] == "stop"
    assert reply.metadata["usage"]["uncached_input_tokens"] == 3
    assert reply.metadata["usage"]["completion_tokens"] == 2
    bare = user.append_response(CompletionResponse(id="", model="m", content="x"))
    assert "usage" not in bare.metadata and "finish_reason" not in bare.metadata


def test_metadata() -> None:
    node = ChatNode.root("s")
    assert node.metadata == {} and node.get_metadata("k") is None
    node.set_metadata("k", {"a": 1})
    node.metadata["other"] = True
    assert node.get_metadata("k") == {"a": 1} and node.metadata == {"k": {"a": 1}, "other": True}


def test_cache_marks() -> None:
    root = ChatNode.root("s")
    u = root.add_user("u")
    assert not u.is_cache_breakpoint() and not u.message.cache_breakpoint
    assert u.cache_breakpoint() is u
    assert u.is_cache_breakpoint() and u.message.cache_breakpoint
    assert [m.cache_breakpoint for m in u.thread()] == [False, True]
    root.cache_breakpoint()
    u.clear_cache_breakpoint()
    assert not u.is_cache_breakpoint() and root.is_cache_breakpoint()
    u.cache_breakpoint()
    u.add_assistant("a").cache_breakpoint()
    u.clear_all_cache_breakpoints()
    assert not any(n.is_cache_breakpoint() for n in root.iter_depth_first())


def test_node_flag_starts_from_a_marked_message() -> None:
    node = ChatNode(Message("user", "x", cache_breakpoint=True))
    assert node.is_cache_breakpoint()
    node.clear_cache_breakpoint()
    assert not node.message.cache_breakpoint


def test_merged_thread_merges_contiguous_messages_only_there() -> None:
    root = ChatNode.root("s")
    tip = root.add_user("Hello").add_user("World")
    assert len(tip.thread()) == 3
    merged = tip.merged_thread()
    assert [(m.role, m.text) for m in merged] == [(Role.SYSTEM, "s"), (Role.USER, "Hello\nWorld")]


def test_conversation_builder() -> None:
    builder = ConversationBuilder("You are helpful").user("Hello").assistant("Hi!").user("How are you?")
    current = builder.current()
    assert current.role is Role.USER and current.text == "How are you?"
    assert len(current.thread()) == 4
    assert builder.build() is current
    assert builder.root().text == "You are helpful" and builder.root().node_count() == 4


def test_repr_is_short_and_markdown_shows_the_conversation() -> None:
    node = ChatNode.root("You are helpful.").add_user("x" * 500)
    r = repr(node)
    assert r.startswith("<ChatNode user") and len(r) < 120
    md = node._repr_markdown_()
    assert "**system**: You are helpful." in md and "**user**: " in md
