"""Sub-commands of the ``capflow`` CLI; each module exposes ``register(subparsers)``."""
