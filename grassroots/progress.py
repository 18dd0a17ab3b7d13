"""A rich progress bar over a list, or the plain list when progress is off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: list[T], enabled: bool, label: str) -> Iterator[T]:
    if not enabled or not items:
        yield from items
        return
    from rich.progress import Progress  # imported only when a bar is shown

    with Progress() as bar:
        task = bar.add_task(label, total=len(items))
        for it in items:
            yield it
            bar.advance(task)

