"""Sub-commands of the ``capflow`` CLI; each module exposes ``register(subparsers)``.

:data:`COMMANDS` maps each sub-command to its module and its one-line help, so that ``capflow --help`` lists them
all without importing any (a command's module, and what it imports, loads only when that command runs).
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "fetch": ("capflow.commands.data", "resolve prices through cache, live sources and snapshot; fill the cache"),
    "quality": ("capflow.commands.data", "coverage, gaps, stale values and clock switches per asset"),
    "run": ("capflow.commands.run", "execute report notebooks and publish HTML"),
    "validate": ("capflow.commands.run", "check run parameters against the notebooks; execute nothing"),
    "catalog": ("capflow.commands.catalog", "event catalogs: show, or rebuild from primary sources and compare"),
    "sources": ("capflow.commands.sources", "resolution order, source limits and the request plan (--plan)"),
}
