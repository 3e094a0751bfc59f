"""OpenAssistant message trees: every root-to-leaf thread becomes one record.

A tree is ``{message_tree_id, prompt: {text, role, message_id, replies: [...]}}``
(the ``*_trees.jsonl`` export).  Deleted messages and their subtrees are
skipped, as the OASST authors do when building SFT data; the thread's message
ids and the tree id are kept in ``meta`` so every record traces back.
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import Format, Row, make_record
from instructkit.schema import Message, Record

ROLES = {"prompter": "user", "assistant": "assistant"}
MESSAGE_META = ("lang", "review_result", "synthetic", "model_name", "rank", "emojis", "labels")


def detect(row: Any) -> bool:
    return (
        isinstance(row, dict) and "message_tree_id" in row and isinstance(row.get("prompt"), dict)
    )


def _threads(node: dict[str, Any], path: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    if node.get("deleted"):
        return []
    path = path + [node]
    replies = [r for r in node.get("replies") or [] if isinstance(r, dict) and not r.get("deleted")]
    if not replies:
        return [path]
    out: list[list[dict[str, Any]]] = []
    for r in replies:
        out.extend(_threads(r, path))
    return out


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    tree_id = str(row["message_tree_id"])
    records = []
    for path in _threads(row["prompt"], []):
        messages: list[Message] = []
        for depth, node in enumerate(path):
            role = ROLES.get(node.get("role", ""))
            if role is None:
                raise RowError(
                    "unknown_role",
                    f"tree {tree_id}: message at depth {depth} has role {node.get('role')!r}",
                )
            if not isinstance(node.get("text"), str):
                raise RowError(
                    "wrong_type", f"tree {tree_id}: message at depth {depth} has no text"
                )
            messages.append({"role": role, "content": node["text"]})
        meta_row = {"tree_id": tree_id}
        meta_row.update({k: v for k, v in row.items() if k not in ("prompt", "message_tree_id")})
        meta_row["message_ids"] = [n.get("message_id") for n in path]
        meta_row["messages_meta"] = [{k: n[k] for k in MESSAGE_META if k in n} for n in path]
        leaf_id = path[-1].get("message_id")
        records.append(
            make_record(meta_row, source, messages, (), record_id=str(leaf_id) if leaf_id else None)
        )
    if not records:
        raise RowError("empty_conversation", f"tree {tree_id} has no undeleted messages")
    return records


FORMAT = Format("oasst", detect, parse, None)
