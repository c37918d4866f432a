"""Notice renders per second with fonts kept per thread, against a new font setup per render.

Run from the repository root:

    .venv/bin/python benchmarks/render_fonts.py [--rounds 25]

Both sides render the same Meldebescheinigung (Erika's certificate, the unit tests' context)
through WeasyPrint with the same stylesheet, interleaved round by round so that the machine's
noise falls on both alike. The baseline is what every render did before issue 22: WeasyPrint's
default, a new ``FontConfiguration`` (fontconfig set-up and font lookup) per document. The
measured side is ``NoticeRenderer.render``, which keeps one per thread. Printed: the median
milliseconds of each, their ratio (baseline / kept; above 1 means faster) and the load average,
since this 2-core machine is shared. Both sides must give identical bytes, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from weasyprint import HTML  # noqa: E402

from backend.documents import NoticeRenderer  # noqa: E402
from backend.documents.render import PDF_VARIANT, TemplateResourceFetcher  # noqa: E402
from tests.unit.test_render import MELDE, TEMPLATE, erika_context  # noqa: E402


def main() -> int:
    """Measure both ways in one run and print medians, ratio and load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    renderer = NoticeRenderer(ROOT / "services")
    context = erika_context()
    markup = renderer.render_html(MELDE, TEMPLATE, context)
    templates = renderer._templates_dir(MELDE, TEMPLATE)
    fetcher = TemplateResourceFetcher([renderer.shared_templates_dir, templates])

    def baseline() -> bytes:
        document = HTML(string=markup, base_url=templates.as_uri() + "/", url_fetcher=fetcher)
        pdf: bytes = document.write_pdf(
            stylesheets=[renderer._stylesheet], pdf_variant=PDF_VARIANT, custom_metadata=True
        )
        return pdf

    def kept() -> bytes:
        return renderer.render(MELDE, TEMPLATE, context)

    if baseline() != kept():
        print("the two ways give different PDFs: nothing to compare", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {"baseline": [], "kept": []}
    for _ in range(args.rounds):
        for name, run in (("baseline", baseline), ("kept", kept)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["baseline"]) * 1000
    mine = statistics.median(times["kept"]) * 1000
    print(f"rounds {args.rounds}")
    print(f"new fonts per render   median {base:7.1f} ms")
    print(f"fonts kept per thread  median {mine:7.1f} ms")
    print(f"ratio (baseline / kept) {base / mine:.2f}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
