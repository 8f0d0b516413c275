"""How much the hyperscalers spend: trailing-four-quarter capex and the latest capex guidance, from the catalog.

Layer 4 (analyses), frames in, frames out, no data reading: every function takes a catalog from
:func:`capflow.capex.load_announcements` (one row per earnings release, ``capex_usd`` the quarter's cash capex,
``guidance_*`` the capex guidance given in that release).

Rules
-----
* **Trailing four quarters (T4Q)** of a release: its quarter plus the company's three previous releases, only
  when those four releases are consecutive quarters (each gap 60-130 days, as :func:`capflow.capex.surprise_table`
  uses) and all four quarters have a capex figure. A quarter the catalog holds without a figure (e.g. a release
  whose capex no source gave) makes the T4Q missing, never a three-quarter sum: the reported quarters and the
  missing fiscal periods are returned beside it.
* **Total**: the sum of the companies' T4Q, each as of its latest release on or before the date; missing when
  any company's T4Q is missing (a total of the complete companies is returned separately, with the list).
* **Latest guidance** of a company: the latest release whose guidance has a dollar figure (low/high/midpoint),
  plus the text of any later release whose guidance has no figure (a qualitative update or "not found").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Days between consecutive quarterly releases of one company.
QUARTER_GAP_DAYS: tuple[int, int] = (60, 130)
_FULL_YEAR = re.compile(r"^(FY)?\d{4}$")


def quarterly_capex(catalog: pd.DataFrame) -> pd.DataFrame:
    """Every release with its quarter's capex and the company's trailing four quarters (see the module rules).

    Parameters
    ----------
    catalog : DataFrame
        ``ticker, company, announce_date, fiscal_period, capex_usd`` (and ``inferred``) per release.

    Returns
    -------
    DataFrame
        Sorted by ``ticker, announce_date`` (RangeIndex): ``ticker, company, announce_date, fiscal_period,
        capex_usd, inferred, t4q_usd`` (NaN unless four consecutive quarters with figures), ``quarters_reported``
        (quarters with a figure among the last four consecutive releases), ``reported_sum_usd`` (their sum),
        ``missing_quarters`` (fiscal periods without a figure among them, comma-separated, "" when none).
    """
    cat = catalog.sort_values(["ticker", "announce_date"], kind="stable").reset_index(drop=True)
    g = cat.groupby("ticker", sort=False)
    lo, hi = QUARTER_GAP_DAYS
    chain = np.ones(len(cat), dtype=int)
    alive = np.ones(len(cat), dtype=bool)
    for k in range(1, 4):
        gap = (g["announce_date"].shift(k - 1) - g["announce_date"].shift(k)).dt.days
        alive &= gap.between(lo, hi).to_numpy()
        chain += alive
    vals = np.column_stack([g["capex_usd"].shift(k).to_numpy(float) for k in range(4)])
    periods = np.column_stack([g["fiscal_period"].shift(k).astype(object).to_numpy() for k in range(4)])
    inside = np.arange(4)[None, :] < chain[:, None]
    have = inside & np.isfinite(vals)
    out = cat[[c for c in ("ticker", "company", "announce_date", "fiscal_period", "capex_usd", "inferred")
               if c in cat.columns]].copy()
    out["quarters_reported"] = have.sum(axis=1)
    out["reported_sum_usd"] = np.where(have, vals, 0.0).sum(axis=1)
    out["t4q_usd"] = np.where(out["quarters_reported"] == 4, out["reported_sum_usd"], np.nan)
    gone = inside & ~np.isfinite(vals)
    out["missing_quarters"] = [", ".join(str(p) for p, m in zip(row_p[::-1], row_m[::-1]) if m)
                               for row_p, row_m in zip(periods, gone)]            # oldest first
    return out


def trailing_capex(catalog: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """Each company's trailing-four-quarter capex as of its latest release (on or before ``as_of``).

    Returns
    -------
    DataFrame
        One row per company (sorted by ticker): ``company, ticker, latest_release, fiscal_period,
        latest_quarter_usd, t4q_usd, quarters_reported, reported_sum_usd, missing_quarters`` (see
        :func:`quarterly_capex`), ``last_complete_t4q_usd`` and ``last_complete_release`` (the company's latest
        release with a complete T4Q; equal to the latest one when nothing is missing).
    """
    q = quarterly_capex(catalog)
    if as_of is not None:
        q = q[q["announce_date"] <= pd.Timestamp(as_of)]
    last = q.groupby("ticker", sort=True).tail(1).sort_values("ticker").reset_index(drop=True)
    done = q.dropna(subset=["t4q_usd"]).groupby("ticker", sort=True).tail(1).set_index("ticker")
    out = last.rename(columns={"announce_date": "latest_release", "capex_usd": "latest_quarter_usd"})
    out["last_complete_t4q_usd"] = out["ticker"].map(done["t4q_usd"])
    out["last_complete_release"] = out["ticker"].map(done["announce_date"])
    return out[["company", "ticker", "latest_release", "fiscal_period", "latest_quarter_usd", "t4q_usd",
                "quarters_reported", "reported_sum_usd", "missing_quarters", "last_complete_t4q_usd",
                "last_complete_release"]]


def trailing_total(latest: pd.DataFrame) -> dict:
    """The total of :func:`trailing_capex`: companies with a complete T4Q summed, the others listed.

    Returns
    -------
    dict
        ``total_usd`` (sum over complete companies; NaN when none), ``complete`` and ``incomplete`` (tickers),
        ``as_of`` (latest release date), ``reported_incomplete_usd`` (reported quarters of the incomplete ones).
    """
    ok = latest["t4q_usd"].notna()
    return {"total_usd": float(latest.loc[ok, "t4q_usd"].sum()) if ok.any() else float("nan"),
            "complete": latest.loc[ok, "ticker"].tolist(), "incomplete": latest.loc[~ok, "ticker"].tolist(),
            "as_of": latest["latest_release"].max(),
            "reported_incomplete_usd": float(latest.loc[~ok, "reported_sum_usd"].sum())}


def trailing_total_series(quarterly: pd.DataFrame, dates: object = None) -> pd.DataFrame:
    """Each company's T4Q as of every date (its latest release on or before it) and the all-company total.

    Parameters
    ----------
    quarterly : DataFrame
        From :func:`quarterly_capex`.
    dates : sequence of date-like, optional
        The as-of dates (default: every release date).

    Returns
    -------
    DataFrame
        ``date``, one column per ticker (sorted; NaN before its first complete T4Q or when its latest T4Q is
        missing), ``total_usd`` (NaN unless every company's is known), ``companies_complete``.
    """
    when = np.sort(quarterly["announce_date"].unique()) if dates is None else pd.DatetimeIndex(dates).sort_values()
    out = pd.DataFrame({"date": pd.DatetimeIndex(when)})
    for ticker, rows in quarterly.groupby("ticker", sort=True):
        asof = pd.merge_asof(out[["date"]], rows[["announce_date", "t4q_usd"]].sort_values("announce_date"),
                             left_on="date", right_on="announce_date", direction="backward")
        out[ticker] = asof["t4q_usd"].to_numpy(float)
    vals = out.drop(columns="date").to_numpy(float)
    known = np.isfinite(vals)
    out["total_usd"] = np.where(known.all(axis=1), np.where(known, vals, 0.0).sum(axis=1), np.nan)
    out["companies_complete"] = known.sum(axis=1)
    return out


def latest_guidance(catalog: pd.DataFrame) -> pd.DataFrame:
    """Each company's latest capex guidance with a dollar figure, and any later statement without one.

    Returns
    -------
    DataFrame
        One row per company of the catalog (sorted by ticker): ``company, ticker, period`` (``2026``,
        ``FY2026``, ``FY2026 Q1``), ``low_usd, high_usd, mid_usd``, ``release`` (date of the release it came
        from), ``guidance`` (its text), ``full_year`` (the period is a year, not a quarter), ``later_statement``
        (``YYYY-MM-DD: text`` of the latest later release whose guidance has no figure, "" when none).
        Companies without any dollar guidance have NaN figures and an empty period.
    """
    cat = catalog.sort_values(["ticker", "announce_date"], kind="stable")
    text = cat["guidance_text"].astype("string").str.strip()
    said = cat[text.notna() & (text != "")]
    rows = []
    for ticker, rel in cat.groupby("ticker", sort=True):
        num = rel[rel["guidance_mid_usd"].notna()].tail(1)
        row = {"company": rel["company"].iloc[-1], "ticker": ticker, "period": "", "low_usd": np.nan,
               "high_usd": np.nan, "mid_usd": np.nan, "release": pd.NaT, "guidance": "", "full_year": False}
        if len(num):
            r = num.iloc[0]
            row.update(period=str(r["guidance_period"] or ""), low_usd=r["guidance_low_usd"],
                       high_usd=r["guidance_high_usd"], mid_usd=r["guidance_mid_usd"], release=r["announce_date"],
                       guidance=str(r["guidance_text"]),
                       full_year=bool(_FULL_YEAR.match(str(r["guidance_period"] or ""))))
        later = said[(said["ticker"] == ticker) & (said["guidance_mid_usd"].isna())]
        if len(num):
            later = later[later["announce_date"] > num["announce_date"].iloc[0]]
        row["later_statement"] = (f"{later['announce_date'].iloc[-1]:%Y-%m-%d}: {later['guidance_text'].iloc[-1]}"
                                  if len(later) else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=["company", "ticker", "period", "low_usd", "high_usd", "mid_usd", "release",
                                       "guidance", "full_year", "later_statement"])


def guidance_total(guidance: pd.DataFrame) -> dict:
    """Sum of the latest full-year guidance midpoints for the latest calendar year any company guides for.

    Returns
    -------
    dict
        ``period`` (``2026``; "" when no company gives a calendar-year figure), ``total_usd``, ``companies``
        (tickers summed), ``other`` (full-year figures for other periods, e.g. Oracle's fiscal year:
        ``[(ticker, period, mid_usd)]``), ``none`` (tickers without a full-year figure).
    """
    fy = guidance[guidance["full_year"]]
    calendar_years = fy[fy["period"].str.fullmatch(r"\d{4}")]
    period = str(calendar_years["period"].max()) if len(calendar_years) else ""
    summed = fy[fy["period"] == period]
    other = fy[fy["period"] != period]
    return {"period": period, "total_usd": float(summed["mid_usd"].sum()) if len(summed) else float("nan"),
            "companies": summed["ticker"].tolist(),
            "other": list(zip(other["ticker"], other["period"], other["mid_usd"].astype(float))),
            "none": guidance.loc[~guidance["full_year"], "ticker"].tolist()}
