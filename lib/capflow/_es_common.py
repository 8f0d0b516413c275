"""Names shared by the private event-study modules (``capflow._es_*``) and :mod:`capflow.eventstudy` (private).

The error class, the model and test names and the drop reasons live here so that every layer below the public
module can raise and name them without importing it.
"""

from __future__ import annotations

MODELS = ("constant_mean", "market_adjusted", "market", "factor", "dimson")
TESTS = ("t_cs", "patell", "bmp", "kp", "corrado", "gen_sign", "sign", "wilcoxon", "cz_sign", "grank", "kp_patell",
         "bw_cda", "lamb", "bhar_skew_t")
REASONS = ("", "asset not in returns", "no benchmark returns", "missing event-window returns",
           "estimation overlaps event window", "too few estimation obs", "degenerate estimation regressors",
           "asset is its own benchmark")
ASSET, BENCH, WINDOW, OVERLAP, FEW, SINGULAR, SELF = range(1, 8)


class EventStudyError(ValueError):
    """Bad input to :func:`capflow.eventstudy.event_study`; the message names the parameter, what was wrong and
    what is valid."""


def window_label(w: tuple[int, int]) -> str:
    """``(-1, 1)`` -> ``"[-1,+1]"``, ``(0, 0)`` -> ``"[0,0]"``."""
    def f(x: int) -> str:
        return "0" if x == 0 else f"{x:+d}"
    return f"[{f(w[0])},{f(w[1])}]"
