"""The edges plugged into the core, so that ``domain/`` and ``consumers/`` never import an edge: the read
models the projection runner applies besides the core ones of ``projections/``, and the bank-file reader
of the scenario step ``import_payments``.

Importing this module is enough; the composition root (``kravsak.settings.projector_options``,
the CLI, the test suite's ``conftest``) does it before it names the projections or runs a scenario.
"""

from __future__ import annotations

from consumers.projector import plug_projection
from domain.scenario import plug_bank_files
from intake.scenario_step import import_payments
from letters.projection import Letters

plug_projection("letters", Letters)  # the notices' letters, queued in the same transaction as the offsets (ADR 0015)
plug_bank_files(import_payments)  # import_payments: the same import as `kravsak payments import` (ADR 0019)
