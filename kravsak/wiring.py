"""Which read models the projection runner applies: the core ones of ``projections/`` and those of
the edge packages, plugged in here so that ``consumers/`` never imports an edge.

Importing this module is enough; the composition root (``kravsak.settings.projector_options``,
the CLI) does it before it names the projections.
"""

from __future__ import annotations

from consumers.projector import plug_projection
from letters.projection import Letters

plug_projection("letters", Letters)  # the notices' letters, queued in the same transaction as the offsets (ADR 0015)
