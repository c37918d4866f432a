"""A `knopfdruck worker` plus one test workflow that calls run_writebacks, so the durable
write-back path (child workflows on the per-registry queue) is tested in a real worker process.

Run as ``python -m tests.integration.writeback_worker`` with the usual KNOPFDRUCK_* variables.
"""

from __future__ import annotations

from dbos import DBOS

from backend.cases.writeback import run_writebacks
from backend.context import build_context
from backend.runtime import serve_until_signalled
from backend.settings import get_settings

QUEUE = "test-writebacks"
WORKFLOW = "knopfdruck.test.run_writebacks"


@DBOS.workflow(name=WORKFLOW)
def run_writebacks_workflow(case_id: str) -> list[str]:
    """Stands in for the case workflow's call after the documents."""
    return run_writebacks(case_id)


def main() -> None:
    serve_until_signalled(build_context(get_settings()), concurrency=4)


if __name__ == "__main__":
    main()
