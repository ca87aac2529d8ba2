"""Blocking of dependents: a task that waits for a failed, agent-blocked or cancelled task
(through `after` or a later `phase`, transitively) is blocked; pure functions."""

from __future__ import annotations

from .state import BLOCKED, CANCELLED, FAILED, QUEUED, Action, State, Update

Node = str | tuple[str, int]  # a task id, or ("gate", i): "every task of the phases below i"


def _root_causes(state: State) -> dict[Node, str | None]:
    """For every task, the failed/blocked/cancelled task it waits for, if any.

    Edges are `after` and phases; a phase gate node stands for "all lower phases done",
    so the graph stays linear in size. Computed iteratively in dependency order.
    """
    tasks = state.tasks
    phases = sorted({t.task.phase for t in tasks.values() if t.task.phase is not None})
    gate = {p: i for i, p in enumerate(phases)}
    members: dict[int, list[str]] = {}
    for t in tasks.values():
        if t.task.phase is not None:
            members.setdefault(gate[t.task.phase], []).append(t.id)

    def deps(node: Node) -> list[Node]:
        if isinstance(node, tuple):
            index = node[1]
            below: list[Node] = [("gate", index - 1)] if index > 1 else []
            return below + list(members.get(index - 1, []))
        t = tasks[node]
        found: list[Node] = [a for a in t.task.after if a in tasks]
        if t.task.phase is not None and gate[t.task.phase] > 0:
            found.append(("gate", gate[t.task.phase]))
        return found

    def own(node: Node) -> str | bool | None:
        """A root cause itself, None if it cannot be blocked, True if it depends on its deps."""
        if isinstance(node, tuple):
            return True
        t = tasks[node]
        if t.status in (FAILED, CANCELLED) or (t.status == BLOCKED and not t.blocked_by):
            return t.id
        return True if t.status in (QUEUED, BLOCKED) else None

    cause: dict[Node, str | None] = {}
    for start in list(tasks):
        if start in cause:
            continue
        stack: list[tuple[Node, int]] = [(start, 0)]
        visiting: set[Node] = {start}
        while stack:
            node, index = stack[-1]
            mine = own(node)
            if mine is not True:
                cause[node] = mine if isinstance(mine, str) else None
                stack.pop()
                visiting.discard(node)
                continue
            children = deps(node)
            if index < len(children):
                stack[-1] = (node, index + 1)
                child = children[index]
                if child not in cause and child not in visiting:
                    visiting.add(child)
                    stack.append((child, 0))
                continue
            cause[node] = next((c for child in children if (c := cause.get(child))), None)
            stack.pop()
            visiting.discard(node)
    return cause


def reconcile_blocking(state: State) -> list[Action]:
    """Block every task that waits (through `after` or `phase`, transitively) for a task that
    failed, was blocked by its agent or was cancelled; unblock those whose cause is gone."""
    if not state.index.count((FAILED, CANCELLED, BLOCKED)):
        return []  # no cause, and nobody to unblock: the common case, in one pass
    causes = _root_causes(state)
    actions: list[Action] = []
    for t in sorted(state.tasks.values(), key=lambda t: t.order):
        root = causes.get(t.id)
        if t.status == QUEUED and root and root != t.id:
            what = state.tasks[root].status
            actions.append(
                Update(
                    t.id,
                    {
                        "status": BLOCKED,
                        "blocked_by": root,
                        "reason": f"waits for {root}, which is {what}",
                    },
                    BLOCKED,
                    f"{t.id}: blocked: waits for {root}, which is {what}",
                )
            )
        elif t.status == BLOCKED and t.blocked_by and not root:
            actions.append(
                Update(
                    t.id,
                    {"status": QUEUED, "blocked_by": None, "reason": ""},
                    "unblocked",
                    f"{t.id}: unblocked ({t.blocked_by} no longer stands in the way)",
                )
            )
        elif t.status == BLOCKED and t.blocked_by and root and root != t.blocked_by:
            actions.append(
                Update(
                    t.id,
                    {
                        "blocked_by": root,
                        "reason": f"waits for {root}, which is {state.tasks[root].status}",
                    },
                    BLOCKED,
                    f"{t.id}: now blocked by {root}",
                )
            )
    return actions
