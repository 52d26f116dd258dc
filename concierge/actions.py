"""Actions a person can take next: the channel-neutral form of a message's buttons.

A use case says *what* can be done (accept this invitation, rate this request) and each
channel decides *how* it looks: the messengers render inline buttons and encode the action
in their callback data, the web desk renders a form. An action is a name, the kind of step,
and its parameters; a channel that receives one back checks it again like any other input,
so nothing here is trusted on the way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

Param = str | int | bool

# The widest row any of our channels shows; a layout without sizes fills rows up to it.
ROW_WIDTH = 8


@dataclass(frozen=True)
class Action:
    label: str
    name: str
    # A tuple of pairs, not a dict: actions are hashable, so rendered menus can be cached.
    params: tuple[tuple[str, Param], ...] = ()

    @classmethod
    def of(cls, label: str, name: str, **params: Param) -> Action:
        return cls(label=label, name=name, params=tuple(params.items()))

    @property
    def arguments(self) -> dict[str, Param]:
        return dict(self.params)


@dataclass(frozen=True)
class Actions:
    """Rows of actions, in display order."""

    rows: tuple[tuple[Action, ...], ...]

    def __iter__(self) -> Iterator[Action]:
        return chain.from_iterable(self.rows)

    def __bool__(self) -> bool:
        return any(self.rows)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the outbox keeps messages until a channel sends them)."""
        return {
            "actions": [
                [{"label": a.label, "name": a.name, "params": a.arguments} for a in row]
                for row in self.rows
            ]
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Actions:
        return cls(
            rows=tuple(
                tuple(
                    Action(
                        label=str(item["label"]),
                        name=str(item["name"]),
                        params=tuple(dict(item.get("params") or {}).items()),
                    )
                    for item in row
                )
                for row in data["actions"]
            )
        )


def arrange(actions: Iterable[Action], *sizes: int) -> Actions:
    """Rows of these sizes in turn, the last size repeated for the remaining actions."""
    if any(not 1 <= size <= ROW_WIDTH for size in sizes):
        raise ValueError(f"row sizes must be 1..{ROW_WIDTH}: {sizes}")
    items = list(actions)
    widths = chain(sizes or (ROW_WIDTH,), repeat((sizes or (ROW_WIDTH,))[-1]))
    rows: list[tuple[Action, ...]] = []
    start = 0
    while start < len(items):
        size = next(widths)
        rows.append(tuple(items[start : start + size]))
        start += size
    return Actions(rows=tuple(rows))
