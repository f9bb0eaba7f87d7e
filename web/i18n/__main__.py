"""``python -m web.i18n extract|update|compile``: the catalogues, by Babel's own tools.

- ``extract``: every text of the templates and ``web/`` into ``messages.pot``;
- ``update``: merge the template into ``nb`` and ``sv`` (new texts empty, gone texts obsolete);
- ``compile``: ``messages.po`` → ``messages.mo`` for both.
"""

from __future__ import annotations

import sys

from babel.messages.frontend import CommandLineInterface

from web.i18n import HERE, TRANSLATED

ROOT = HERE.parent.parent


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    cli = CommandLineInterface()
    pot = str(HERE / "messages.pot")
    if what == "extract":
        cli.run(["pybabel", "extract", "-F", str(HERE / "babel.cfg"), "-k", "_", "-k", "N_", "-k", "t", "--no-location",
                 "--sort-output", "-o", pot, str(ROOT / "web")])  # type: ignore[no-untyped-call]  # fmt: skip
    elif what == "update":
        for lang in TRANSLATED:
            cli.run(["pybabel", "update", "-i", pot, "-d", str(HERE), "-l", lang, "--no-fuzzy-matching"])  # type: ignore[no-untyped-call]
    elif what == "compile":
        for lang in TRANSLATED:
            cli.run(["pybabel", "compile", "-d", str(HERE), "-l", lang, "--statistics"])  # type: ignore[no-untyped-call]
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
