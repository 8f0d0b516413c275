"""capflow: where risk capital flows between AI equities and crypto.

Layers (data flows down, never back up): ``assets`` -> ``data`` -> ``returns`` -> analyses (``eventstudy``,
``cascade``, ``capex``, ``divergence``) -> ``plots`` -> ``report`` -> ``cli``.
"""

__version__ = "0.1.0"
