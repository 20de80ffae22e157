"""Progress bars that cost nothing when they are not shown."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class _Hidden:
    """Stands in for a tqdm bar that is not shown: every call does nothing."""

    def update(self, n: float = 1) -> None:
        """Count ``n`` more (ignored)."""

    def close(self) -> None:
        """Finish the bar (nothing to do)."""

    def __enter__(self) -> _Hidden:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None


def progress_bar(show: bool, **options: Any) -> Any:
    """A ``tqdm.auto`` bar with ``options`` if ``show``, else one that does nothing.

    Even a disabled tqdm bar sets up tqdm's locks and monitor thread the first
    time in a process, which a save that shows no bar need not pay.
    """
    if not show:
        return _Hidden()
    from tqdm.auto import tqdm

    return tqdm(**options)
