"""Studies: each composes the analyses (numbers) and the plots (figures) into one shape (see
:mod:`capflow.studies.base`): ``Params`` -> ``load_inputs(params)`` -> ``run(inputs, params)`` -> ``Result``.

Layer: above :mod:`capflow.plots`, below :mod:`capflow.report` (alphalens' ``tears`` to its ``performance`` and
``plotting``).
"""

from capflow.studies.base import Note, Notes, Result, StudyError, Table, params_dict, params_from

__all__ = ["Note", "Notes", "Result", "StudyError", "Table", "params_dict", "params_from"]
