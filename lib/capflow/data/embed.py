"""Build the embedded snapshot: a compact, byte-faithful copy of a snapshot folder shipped in the repository.

``data/snapshot/`` holds the same files as the snapshot it was built from (schema: its ``README.md``), each CSV
gzip-compressed (``market/crypto_daily.csv`` -> ``market/crypto_daily.csv.gz``): the text of every row, and so
every value and every per-value source tag, is unchanged. The events catalogs stay plain CSV (small, reviewed in
diffs), the source notes (``*.md``) are copied as they are. The reader (:mod:`capflow.data.snapshot`) accepts a
file either compressed or not, so a fresh clone reads ``data/snapshot`` in place with no network and nothing
beside it; ``CAPFLOW_SNAPSHOT`` may still point at any other folder in the schema.

Rebuild (after the upstream snapshot changes)::

    python -m capflow.data.embed /path/to/shared/data data/snapshot
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import sys
from pathlib import Path

#: Files kept uncompressed (small and reviewed as text).
PLAIN = ("events/",)
#: gzip level and a fixed mtime: the same input gives the same bytes (reproducible builds).
LEVEL = 9


def _gzip(src: Path, dest: Path) -> None:
    """Write ``src`` (plain or gzip) as deterministic gzip at ``dest`` (temp file, then rename)."""
    opener = gzip.open if src.suffix == ".gz" else open
    tmp = dest.with_name(dest.name + ".tmp")
    with opener(src, "rb") as fin, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=LEVEL, fileobj=raw, mtime=0) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    tmp.replace(dest)


def _text_sha(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def build(src: str | Path, dest: str | Path) -> list[tuple[str, str, int]]:
    """Copy the snapshot at ``src`` into ``dest`` (CSV gzipped, events and notes plain).

    Returns
    -------
    list of (relative path written, sha256 of its uncompressed text, bytes on disk)

    Raises
    ------
    FileNotFoundError
        ``src`` has no ``market/`` folder (not a snapshot).
    """
    src, dest = Path(src), Path(dest)
    if not (src / "market").is_dir():
        raise FileNotFoundError(f"{src} is not a snapshot folder (no market/ inside)")
    out = []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        if path.suffix in (".csv", ".gz") and not rel.startswith(PLAIN):
            target = dest / (rel if rel.endswith(".gz") else rel + ".gz")
            target.parent.mkdir(parents=True, exist_ok=True)
            _gzip(path, target)
        else:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        out.append((target.relative_to(dest).as_posix(), _text_sha(target), target.stat().st_size))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m capflow.data.embed SRC DEST``: build and print what was written."""
    p = argparse.ArgumentParser(description="Build the embedded snapshot (gzip copy of a snapshot folder).")
    p.add_argument("src")
    p.add_argument("dest")
    args = p.parse_args(argv)
    rows = build(args.src, args.dest)
    for rel, _sha, size in rows:
        print(f"{size:>10,}  {rel}")
    print(f"{sum(r[2] for r in rows):>10,}  total")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
