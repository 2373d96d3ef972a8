"""Progress of long work (catalogue sync, imports, pushes, bulk linking): counts, rate and time left.

Why one home: every long task shows the same line ("12 of 40 sets · about 2 min left"), and the arithmetic
behind the estimate (rate from what is done so far, nothing guessed before the first unit is done) must be
the same everywhere. The UI widget is ui/progress.py; this module never imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def eta_seconds(done: int, total: int | None, elapsed_seconds: float) -> float | None:
    """Seconds left at the average rate so far; None while unknown (nothing done yet, no total, no time
    elapsed) and 0 once everything is done."""
    if total is None or total <= 0:
        return None
    if done >= total:
        return 0.0
    if done <= 0 or elapsed_seconds <= 0:
        return None
    return (total - done) * elapsed_seconds / done


def duration_text(seconds: float | None) -> str:
    """ "about 2 min" for an ETA; "—" when unknown."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where one long task stands: ``done`` of ``total`` ``unit`` (total None while unknown), since
    ``started_at``; ``finished`` once it stopped (then no time is left)."""

    done: int
    total: int | None
    unit: str = "items"
    started_at: datetime | None = None
    finished: bool = False

    @property
    def fraction(self) -> float:
        """0..1 for a progress bar; 1 once finished, 0 while the total is unknown."""
        if self.finished:
            return 1.0
        if not self.total:
            return 0.0
        return max(0.0, min(1.0, self.done / self.total))

    def eta(self, now: datetime) -> float | None:
        if self.finished or self.started_at is None:
            return None
        return eta_seconds(self.done, self.total, (now - self.started_at).total_seconds())

    def counts_text(self) -> str:
        """ "12 of 40 sets" (or "12 sets" while the total is unknown)."""
        if self.total is None:
            return f"{self.done:,} {self.unit}"
        return f"{self.done:,} of {self.total:,} {self.unit}"

    def text(self, now: datetime) -> str:
        """The one line under a progress bar: counts, then the time left while it is known."""
        left = self.eta(now)
        return self.counts_text() + ("" if left is None else f" · {duration_text(left)} left")
