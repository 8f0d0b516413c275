"""The one shape every study has: ``load_inputs(params)`` -> ``run(inputs, params)`` -> a :class:`Result`.

- ``Params``: a frozen dataclass per study, checked once (:func:`params_from`), shown with its values in the
  method section.
- ``load_inputs(params)``: the only code that reads data; returns the study's inputs and the notes of what was
  lost while loading.
- ``run(inputs, params)``: pure (frames in, frames out).
- :class:`Result`: ``headline()`` (key findings computed from the numbers), ``tables()`` (named, formatted
  :class:`Table` objects), ``figures()`` (named matplotlib figures), ``method()`` (model, windows, tests, clocks
  with their values), :attr:`Result.notes` (every drop, exclusion and caveat, counted with its reason: one
  mechanism for all studies), ``summary()`` (the JSON the report index shows) and ``save(folder)``.

Notes replace printed warnings: a published page shows them in its "Method and caveats" section, never as a
stderr box.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd

from capflow import fmt


class StudyError(ValueError):
    """Bad study parameters or inputs; one line naming the parameter, what was wrong and what is valid."""


# ----------------------------------------------------------------------------------------------------- notes
@dataclass(frozen=True)
class Note:
    """One thing the reader must know: a drop, an exclusion or a caveat.

    Attributes
    ----------
    kind : {"dropped", "excluded", "caveat", "data"}
    stage : str
        Where it happened (``load``, ``estimation``, ``event study``...).
    subject : str
        What it is about (an asset symbol, an event, ``sample``).
    reason : str
        Why, in a few words.
    count : int
        How many items this note stands for (e.g. 3 days excluded).
    """

    kind: str
    stage: str
    subject: str
    reason: str
    count: int = 1


NOTE_KINDS = ("dropped", "excluded", "caveat", "data")


class Notes:
    """The notes of one study, in the order they were added; grouped by (kind, stage, reason) when shown."""

    def __init__(self, items: Iterable[Note] = ()):
        self.items: list[Note] = list(items)

    def add(self, kind: str, stage: str, subject: str, reason: str, count: int = 1) -> None:
        """Record a note (``kind`` one of :data:`NOTE_KINDS`)."""
        if kind not in NOTE_KINDS:
            raise StudyError(f"note kind {kind!r} is unknown; valid: {', '.join(NOTE_KINDS)}")
        self.items.append(Note(kind, stage, str(subject), str(reason), int(count)))

    def extend(self, other: "Notes | Iterable[Note]") -> None:
        """Append the notes of ``other``."""
        self.items.extend(other.items if isinstance(other, Notes) else other)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def of(self, kind: str) -> list[Note]:
        """The notes of one kind."""
        return [n for n in self.items if n.kind == kind]

    def count(self, kind: str, stage: str | None = None) -> int:
        """How many subjects notes of ``kind`` (optionally at ``stage``) name (distinct subjects)."""
        return len({n.subject for n in self.items if n.kind == kind and (stage is None or n.stage == stage)})

    def table(self) -> pd.DataFrame:
        """One row per note: kind, stage, subject, reason, count."""
        return pd.DataFrame([dataclasses.asdict(n) for n in self.items],
                            columns=["kind", "stage", "subject", "reason", "count"])

    def lines(self, max_subjects: int = 12) -> list[str]:
        """Markdown bullets, one per (kind, stage, reason): ``dropped at load (3): no hourly bars: AKT, VVV, X``."""
        groups: dict[tuple[str, str, str], list[Note]] = {}
        for n in self.items:
            groups.setdefault((n.kind, n.stage, n.reason), []).append(n)
        out = []
        for (kind, stage, reason), notes in groups.items():
            subjects = list(dict.fromkeys(n.subject for n in notes))
            shown = ", ".join(subjects[:max_subjects]) + (f" and {len(subjects) - max_subjects} more"
                                                          if len(subjects) > max_subjects else "")
            total = sum(n.count for n in notes)
            where = f" at {stage}" if stage else ""
            label = {"dropped": "Dropped", "excluded": "Excluded", "caveat": "Caveat", "data": "Data"}[kind]
            count = f" ({total})" if kind in ("dropped", "excluded") else ""
            out.append(f"- **{label}{where}{count}:** {reason}" + (f": {shown}" if shown and shown != "sample" else ""))
        return out


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence capflow's log warnings and Python warnings inside a study step: what they say is recorded as notes.

    A published page must show no stderr box; a study that calls a library function whose warnings it already
    turns into :class:`Notes` wraps the call in ``with quiet():``.
    """
    names = loggers or ("capflow",)
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


# ----------------------------------------------------------------------------------------------------- capture
class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


#: Log lines of the layers below that a note already reports in detail (engine drops are listed per event).
_REPORTED_ELSEWHERE = ("event_study: dropped",)
#: Third-party loggers of the data sources: their lines are counted in one note (capflow's own line says why).
_SOURCE_LOGGERS = ("yfinance", "pycoingecko", "urllib3")


@contextlib.contextmanager
def captured(notes: Notes, stage: str) -> Iterator[None]:
    """Run a block with no stderr: warnings and capflow log records (WARNING and up) become ``data`` notes; the
    data sources' own log lines are counted in one note."""
    loggers = [logging.getLogger(name) for name in ("capflow", *_SOURCE_LOGGERS)]
    handler, propagate = _Collect(), [lg.propagate for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for lg, prop in zip(loggers, propagate):
            lg.removeHandler(handler)
            lg.propagate = prop
    own = [r for r in handler.records if r.name.split(".")[0] == "capflow"]
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in own
                                                  if not r.getMessage().startswith(_REPORTED_ELSEWHERE)]
    for msg in dict.fromkeys(messages):
        notes.add("data", stage, "sample", msg if len(msg) <= 200 else msg[:197] + "...")
    other = [r for r in handler.records if r not in own]
    if other:
        names = ", ".join(sorted({r.name.split(".")[0] for r in other}))
        notes.add("data", stage, "sample", f"{len(other)} log lines of the live data sources ({names}) while they "
                  f"failed or answered; first: {other[0].getMessage()[:120]}", len(other))



# ----------------------------------------------------------------------------------------------------- tables
@dataclass
class Table:
    """A named, formatted table: the frame (raw numbers, saved as CSV) and how each column is shown.

    Attributes
    ----------
    name : str
        File-safe name (``car_by_asset``): the CSV is ``<name>.csv``.
    title : str
        Heading shown above the table.
    frame : DataFrame
        The numbers (no meaningful index: it is never shown).
    formats : dict
        Column -> :mod:`capflow.fmt` kind; columns not named get :func:`capflow.fmt.guess_kind`.
    labels : dict
        Column -> header shown (default: the column name).
    note : str
        A line under the title (what the columns mean, units).
    """

    name: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def formatted(self) -> pd.DataFrame:
        """The table as strings, formatted per column, headers relabelled, no index."""
        df = self.frame.reset_index(drop=True)
        out = {}
        for col in df.columns:
            kind = self.formats.get(col) or fmt.guess_kind(str(col), df[col])
            out[self.labels.get(col, str(col))] = fmt.column(df[col], kind)
        return pd.DataFrame(out, columns=list(out))

    def kinds(self) -> list[str]:
        """The format kind of each column, in order."""
        return [self.formats.get(c) or fmt.guess_kind(str(c), self.frame[c]) for c in self.frame.columns]

    def to_html(self) -> str:
        """An HTML table (every cell escaped; numbers right-aligned by class), inside a scrolling wrapper."""
        shown = self.formatted()
        cls = ["num" if k in fmt.NUMERIC_KINDS else "date" if k in ("date", "datetime") else "txt"
               for k in self.kinds()]
        head = "".join(f'<th class="{c}">{html.escape(str(col))}</th>' for col, c in zip(shown.columns, cls))
        rows = "".join("<tr>" + "".join(f'<td class="{c}">{html.escape(v)}</td>' for v, c in zip(r, cls)) + "</tr>"
                       for r in shown.itertuples(index=False))
        cap = f'<p class="capflow-table-note">{html.escape(self.note)}</p>' if self.note else ""
        return (f'<div class="capflow-table" id="table-{html.escape(self.name)}">'
                f'<table class="dataframe capflow"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
                f"{cap}</div>")

    def _repr_html_(self) -> str:
        return self.to_html()


# ----------------------------------------------------------------------------------------------------- params
def params_from(cls: type, values: Mapping[str, Any]):
    """Build the study's params dataclass from a mapping holding (at least) its fields.

    Extra names are ignored (a notebook passes ``globals()``); missing fields take the dataclass defaults.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


class StudyParams:
    """Mixin of every study's frozen ``Params`` dataclass: build it from a notebook's ``globals()``."""

    @classmethod
    def from_vars(cls, values: Mapping[str, Any]):
        """Params from a mapping holding (at least) the fields; other names are ignored, missing ones default."""
        return params_from(cls, values)


def params_dict(params: Any) -> dict[str, Any]:
    """A dataclass of parameters as a plain JSON-able dict."""
    return json.loads(json.dumps(dataclasses.asdict(params), default=str))


# ----------------------------------------------------------------------------------------------------- result
class Result:
    """Base of every study's result (see the module docstring). Subclasses fill the hooks."""

    #: Short study name (``cascade``, ``capex``...), used in file names and the index.
    study: str = "study"

    def __init__(self, params: Any, notes: Notes | None = None):
        self.params = params
        self.notes = notes if notes is not None else Notes()

    # hooks --------------------------------------------------------------------------------------------------
    def headline(self) -> list[str]:
        """Key findings: 3-6 Markdown sentences with numbers, units, honest significance, sample and as-of."""
        raise NotImplementedError

    def tables(self) -> dict[str, Table]:
        """Named tables, in reading order."""
        return {}

    def figures(self) -> dict[str, Any]:
        """Named matplotlib figures, in reading order (built on each call)."""
        return {}

    def method(self) -> list[str]:
        """Method with values: Markdown bullets."""
        return []

    def key_numbers(self) -> dict[str, Any]:
        """The few numbers the report index shows for this run (already formatted strings)."""
        return {}

    def data_summary(self) -> dict[str, Any]:
        """``data_as_of``, ``data_layers``, ``data_sources`` of the data behind the result."""
        return {}

    # shared -------------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The JSON summary the report index reads: headline, key numbers, notes counts, params, data."""
        return {"study": self.study, "headline": self.headline(), "key_numbers": self.key_numbers(),
                "notes": {k: len(self.notes.of(k)) for k in NOTE_KINDS}, "params": params_dict(self.params),
                **self.data_summary()}

    def save(self, folder: str | Path) -> list[Path]:
        """Write every table (CSV, raw numbers), the notes and ``summary.json`` into ``folder``; return the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for t in self.tables().values():
            path = folder / f"{t.name}.csv"
            t.frame.to_csv(path, index=False)
            written.append(path)
        if len(self.notes):
            self.notes.table().to_csv(folder / "notes.csv", index=False)
            written.append(folder / "notes.csv")
        path = folder / "summary.json"
        path.write_text(json.dumps(self.summary(), indent=2, default=str), encoding="utf-8")
        return written + [path]
