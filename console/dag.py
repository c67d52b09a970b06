"""Laying out a workflow's steps as a left-to-right DAG for an SVG drawing.

Each step sits in the column of its longest path from a root; within a column, steps are ordered by
the mean row of their dependencies (fewer crossing edges), then by their order in the definition.
"""

from dataclasses import dataclass

NODE_W, NODE_H = 168, 46
COL_GAP, ROW_GAP, MARGIN = 64, 22, 16


@dataclass
class Node:
    id: str
    label: str
    detail: str
    x: int
    y: int
    status: str = ""

    @property
    def cx(self) -> int:
        return self.x + NODE_W // 2


def layout(
    steps: list[dict], *, statuses: dict[str, str] | None = None, agent_names: dict | None = None
) -> dict:
    """``steps`` as in a definition; returns nodes, edges (as SVG paths) and the drawing's size."""
    statuses, agent_names = statuses or {}, agent_names or {}
    by_id = {s["id"]: s for s in steps}
    depth: dict[str, int] = {}

    def column(step_id: str, trail: frozenset = frozenset()) -> int:
        if step_id not in depth:
            deps = [d for d in by_id[step_id].get("depends_on", []) if d in by_id and d not in trail]
            depth[step_id] = 1 + max((column(d, trail | {step_id}) for d in deps), default=-1)
        return depth[step_id]

    for step in steps:
        column(step["id"])
    columns: dict[int, list[str]] = {}
    for index, step in enumerate(steps):
        columns.setdefault(depth[step["id"]], []).append((index, step["id"]))
    row: dict[str, float] = {}
    for col in sorted(columns):

        def weight(entry, col=col):
            index, step_id = entry
            parents = [row[d] for d in by_id[step_id].get("depends_on", []) if d in row]
            return (sum(parents) / len(parents) if parents else index, index)

        for r, (_, step_id) in enumerate(sorted(columns[col], key=weight)):
            row[step_id] = r
    nodes = {}
    for step in steps:
        target = step.get("agent")
        detail = (
            f"agent {agent_names.get(target, target)}"
            if target is not None
            else f"any {step.get('capability')}"
        )
        nodes[step["id"]] = Node(
            id=step["id"],
            label=step.get("name") or step["id"],
            detail=detail + (" · if …" if step.get("when") else ""),
            x=MARGIN + depth[step["id"]] * (NODE_W + COL_GAP),
            y=MARGIN + int(row[step["id"]]) * (NODE_H + ROW_GAP),
            status=statuses.get(step["id"], ""),
        )
    edges = []
    for step in steps:
        child = nodes[step["id"]]
        for dep in step.get("depends_on", []):
            if dep not in nodes:
                continue
            parent = nodes[dep]
            x1, y1 = parent.x + NODE_W, parent.y + NODE_H // 2
            x2, y2 = child.x, child.y + NODE_H // 2
            bend = (x2 - x1) // 2
            edges.append(
                {"d": f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}", "from": dep, "to": child.id}
            )
    width = MARGIN * 2 + (max(depth.values(), default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = MARGIN * 2 + max((len(c) for c in columns.values()), default=1) * (NODE_H + ROW_GAP) - ROW_GAP
    return {
        "nodes": list(nodes.values()),
        "edges": edges,
        "width": width,
        "height": height,
        "w": NODE_W,
        "h": NODE_H,
    }
