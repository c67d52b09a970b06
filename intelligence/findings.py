"""What an advice detector finds: one suggestion-to-be with its evidence, gain and change."""

from dataclasses import dataclass, field
from datetime import timedelta

WINDOW = timedelta(days=30)  # the history every detector reads
MONTH_DAYS = 30


@dataclass
class Found:
    kind: str
    subject: str
    label: str
    basis: str
    summary: str
    evidence: dict
    expected_gain: str
    gain: dict
    change: dict | None = field(default=None)


def seconds_text(s: float) -> str:
    return f"{s:.1f} s" if s < 90 else f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.1f} h"
