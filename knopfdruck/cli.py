"""The `knopfdruck` command: serve, worker, sandbox, db, services, audit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from backend.errors import DefinitionError
from backend.settings import Settings, get_settings
from knopfdruck.cli_args import cases_at_once
from knopfdruck.cli_args import fail as _fail
from knopfdruck.proxies import UVICORN_OPTIONS
from prefill.configuration import RegistryConfigError
from prefill.connectors.registry import ConnectorRegistry


def _exit_now(code: int) -> None:
    """Leave after a clean shutdown without joining DBOS threads parked in durable waits.

    A case waiting for payment holds a non-daemon thread in DBOS.recv; its state is in the
    database and the next worker resumes it, so the process need not (and could not) wait.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _connectors(settings: Settings) -> ConnectorRegistry:
    from backend.context import connectors_for

    return connectors_for(settings)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from backend.definitions.loader import check_tree

    path = Path(args.path or args.services or settings.services_dir)
    if not path.exists():
        return _fail(f"{path}: no such file or directory")
    problems, warnings = check_tree(path, _connectors(settings))
    warnings += _legal_page_warnings(path, settings)
    problems += _tenant_problems(path, settings)
    for line in problems + warnings:
        print(line, file=sys.stderr)
    # Warnings keep the exit code at 0: the definition works, but deserves a look before go-live.
    counted = f", {len(warnings)} warning(s)" if warnings else ""
    if problems:
        print(f"{len(problems)} problem(s) found{counted}", file=sys.stderr)
        return 1
    print(f"{path}: all service definitions are valid{counted}")
    return 0


def _tenant_problems(path: Path, settings: Settings) -> list[str]:
    """Issue 13: every template x tenant combination, when the platform's own services folder is
    validated (a single folder or another tree has no tenants of its own)."""
    from backend.definitions.loader import load_tree
    from backend.tenants.loader import load_tenants

    if path.resolve() != settings.services_dir or not settings.tenants_folder().is_dir():
        return []
    connectors = _connectors(settings)
    templates, _problems = load_tree(path, connectors)
    return load_tenants(settings.tenants_folder(), templates, connectors)[1]


def _legal_page_warnings(path: Path, settings: Settings) -> list[str]:
    """Issue 21: an authority without Impressum and data protection officer deserves a look."""
    from backend.definitions.loader import load_tree
    from backend.definitions.portal import authority_of, load_portal_config, missing_authorities

    try:
        portal = load_portal_config(settings.portal_config)
    except DefinitionError as exc:
        return exc.problems
    loaded, _problems = load_tree(path, _connectors(settings))
    lines = []
    for item in loaded:
        for warning in missing_authorities(portal, [item.definition], settings.authority_name):
            name, _address = authority_of(item.definition, settings.authority_name)
            text = item.file.read_text(encoding="utf-8").splitlines()
            line = next((n for n, t in enumerate(text, 1) if name in t), 1)
            lines.append(f"{item.file.as_posix()}:{line} procedure.authority: {warning}")
    return lines


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from backend.definitions.loader import definition_json_schema

    text = json.dumps(definition_json_schema(_connectors(settings)), indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from backend.migrate import upgrade_database

    upgrade_database(settings.database_url)
    print("database schema is up to date")
    return 0


def _check_definitions(settings: Settings) -> None:
    from backend.definitions.loader import validate_tree

    problems = validate_tree(settings.services_dir, _connectors(settings))
    if problems:
        raise DefinitionError(problems)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def startup_refusal(settings: Settings, host: str = "127.0.0.1") -> str | None:
    """One line saying what to set when the configuration is unsafe or cannot log anybody in
    (issue 14, item 7); None when the process may start. `host` is where serve listens."""
    sandbox_idp = f"{settings.base_url}/sandbox/idp"
    public = not settings.is_local or host not in LOOPBACK_HOSTS
    if settings.sandbox and public and not settings.sandbox_allow_public_host_insecure:
        where = settings.base_url if not settings.is_local else f"{host} (all interfaces)"
        return (
            f"the sandbox (test identities: anyone gets any token) would be reachable at {where};"
            " set KNOPFDRUCK_SANDBOX=false and KNOPFDRUCK_OIDC_ISSUER, or"
            " KNOPFDRUCK_SANDBOX_ALLOW_PUBLIC_HOST_INSECURE=true on a closed test system"
        )
    if not settings.sandbox and settings.oidc_issuer == sandbox_idp:
        return (
            "no identity provider: set KNOPFDRUCK_OIDC_ISSUER to your OIDC provider, or"
            " KNOPFDRUCK_SANDBOX=true for a local demo with test identities (as ./scripts/run does)"
        )
    return None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if not os.environ.get("KNOPFDRUCK_BASE_URL"):
        # Without a configured public URL the platform is where it listens: the sandbox IdP,
        # registries and links in mails and QR codes must name the port actually served.
        public_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        if ":" in public_host:
            public_host = f"[{public_host}]"
        settings = Settings(base_url=f"http://{public_host}:{args.port}")
    refusal = startup_refusal(settings, args.host)
    if refusal:
        return _fail(f"refusing to start: {refusal}")
    # Imported after the refusal: importing Alembic logs, and a refusal must stay one line.
    import uvicorn

    from backend.migrate import upgrade_database
    from knopfdruck.app import create_app

    if args.no_worker:
        settings.worker_in_process = False
    if args.dev:
        settings.dev_reload = True
    _check_definitions(settings)
    upgrade_database(settings.database_url)
    app = create_app(settings)
    print(f"Knopfdruck läuft auf {settings.base_url}  (Strg+C beendet)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", **UVICORN_OPTIONS)
    _exit_now(0)
    return 0


def worker_settings(settings: Settings) -> Settings:
    """What a dedicated worker process changes of the settings (issue 22).

    Its steps retry, so a dropped connection costs a retry, not a citizen's request: no round
    trip per checkout (serve keeps the ping for its requests). And its machine's cores lay out
    notices in render processes, one per core, unless the operator chose a number
    (KNOPFDRUCK_RENDER_PROCESSES; 0 keeps the layout in the worker's threads).
    """
    renders = settings.render_processes
    if renders is None:
        renders = os.cpu_count() or 1
    return settings.model_copy(update={"db_pre_ping": False, "render_processes": renders})


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from backend.context import build_context
    from backend.runtime import serve_until_signalled

    refusal = startup_refusal(settings)
    if refusal:
        return _fail(f"refusing to start: {refusal}")
    _check_definitions(settings)
    serve_until_signalled(
        build_context(worker_settings(settings)),
        concurrency=args.concurrency or settings.worker_concurrency,
        banner="Knopfdruck worker is processing cases (Ctrl+C stops)",
    )
    _exit_now(0)
    return 0


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """The standalone sandbox: running it is the explicit choice, so KNOPFDRUCK_SANDBOX (which
    mounts it inside serve) does not apply; it holds no case data and trusts nobody."""
    import uvicorn
    from fastapi import FastAPI

    from backend.console.directory import sandbox_directory_token
    from sandbox.idp import build_idp_router
    from sandbox.registries.app import build_registries_app
    from sandbox.scim import build_scim_router

    base = args.public_url.rstrip("/") if args.public_url else f"http://{args.host}:{args.port}"
    app = FastAPI(title="Knopfdruck sandbox: identity provider and registries")
    app.include_router(
        build_idp_router(
            f"{base}/sandbox/idp", settings.data_dir, clients=settings.sandbox_idp_clients
        ),
        prefix="/sandbox/idp",
    )
    app.include_router(
        build_scim_router(sandbox_directory_token(settings.data_dir)), prefix="/sandbox/idp"
    )
    app.mount("/sandbox/registries", build_registries_app())
    from backend.api.handover_callbacks import CALLBACK_PATH
    from backend.handover.credentials import SANDBOX_PATH, sandbox_fitconnect
    from sandbox.fitconnect import build_fitconnect_router

    # Status callbacks go to the platform at KNOPFDRUCK_BASE_URL, signed with the sandbox's own
    # secret; the platform must be configured to trust it (KNOPFDRUCK_HANDOVER_CALLBACK_SECRET)
    # and to log in with the sandbox's client (KNOPFDRUCK_HANDOVER_CLIENT_ID and _SECRET).
    fitconnect = sandbox_fitconnect(settings)
    app.include_router(
        build_fitconnect_router(
            settings.data_dir,
            settings.base_url + CALLBACK_PATH,
            clients={fitconnect.client_id: fitconnect.client_secret},
            callback_secret=fitconnect.callback_secret,
        ),
        prefix=SANDBOX_PATH,
    )
    from sandbox.eakte import build_eakte_router

    app.include_router(build_eakte_router(token=settings.eakte_token), prefix="/sandbox/eakte")
    print(f"Sandbox: IdP at {base}/sandbox/idp, registries at {base}/sandbox/registries")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", **UVICORN_OPTIONS)
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import Session

    from backend.db import engine_for
    from backend.records.audit import verify_all_chains, verify_case_chain

    engine = engine_for(settings)
    with Session(engine) as session:
        reports = (
            [verify_case_chain(session, args.case)] if args.case else verify_all_chains(session)
        )
    broken = [r for r in reports if not r.ok]
    for r in broken:
        print(
            f"case {r.case_id}: chain broken at event {r.broken_at}: {r.problem}", file=sys.stderr
        )
    print(
        f"{len(reports)} case(s) checked, {sum(r.events for r in reports)} events, "
        f"{len(broken)} broken"
    )
    from knopfdruck.cli_ops import report_retention_log

    retention_ok = report_retention_log(engine, args.case)  # tombstones of deleted cases
    engine.dispose()
    return 1 if broken or not retention_ok else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knopfdruck", description="Knopfdruck e-service platform")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run portal, API and (by default) the worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-worker", action="store_true", help="leave cases to `knopfdruck worker`"
    )
    serve.add_argument(
        "--dev", action="store_true", help="reload edited service definitions (integrators)"
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="process cases (any number of processes)")
    worker.add_argument(
        "--concurrency",
        type=cases_at_once,
        default=0,
        help="cases this process runs at once (default: KNOPFDRUCK_WORKER_CONCURRENCY)",
    )
    worker.set_defaults(func=cmd_worker)

    sandbox = sub.add_parser("sandbox", help="run the sandbox IdP and registries standalone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument(
        "--public-url", default="", help="URL under which clients reach the sandbox"
    )
    sandbox.set_defaults(func=cmd_sandbox)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply all migrations").set_defaults(func=cmd_db_upgrade)

    services = sub.add_parser("services", help="service definitions").add_subparsers(
        dest="services_command", required=True
    )
    validate = services.add_parser(
        "validate", help="check definitions; every error with file and line"
    )
    validate.add_argument(
        "path", nargs="?", default="", help="one service folder or a tree (default: --services)"
    )
    validate.add_argument("--services", default="", help="services folder (default: settings)")
    validate.set_defaults(func=cmd_validate)
    schema = services.add_parser("schema", help="print the JSON Schema of service.yaml")
    schema.add_argument("--output", "-o", default="")
    schema.set_defaults(func=cmd_schema)
    from knopfdruck import cli_toolkit

    cli_toolkit.register(services)
    from knopfdruck import cli_services_test

    cli_services_test.register(services)

    audit = sub.add_parser("audit", help="audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser("verify", help="check the hash chain of one case or all")
    verify.add_argument("--case", default="")
    verify.set_defaults(func=cmd_audit_verify)
    from knopfdruck.cli_ops import register as register_ops

    register_ops(sub)  # config-doc, check-worker, retention run
    from knopfdruck.cli_security import register as register_security

    register_security(sub)  # security rotate-keys, reindex-search
    from knopfdruck.cli_staff import register as register_staff

    register_staff(sub)  # staff sync
    from knopfdruck.cli_feedback import register as register_feedback

    register_feedback(sub)  # feedback list (issue 21)
    from knopfdruck.cli_payments import register as register_payments

    register_payments(sub)  # payments booking-export (issue 16)
    from knopfdruck.cli_catalogue import register as register_catalogue

    register_catalogue(sub, services)  # catalogue export, services import-xzufi (issue 16)
    from knopfdruck.cli_tenants import register as register_tenants

    register_tenants(sub)  # tenants validate, list, new, activate (issue 13)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("serve", "worker", "sandbox"):
        from knopfdruck.observability import configure_json_logging

        # Long-running processes log JSON lines with request ids, for the operator's log stack.
        configure_json_logging(logging.INFO)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
    except Exception as exc:  # pydantic ValidationError on a bad KNOPFDRUCK_* variable
        return _fail(f"invalid configuration: {exc}")
    try:
        code: int = args.func(args, settings)
        return code
    except DefinitionError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return _fail("refusing to start: the service definitions above are invalid")
    except RegistryConfigError as exc:
        return _fail(f"refusing to start: registry configuration: {exc}")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            return _fail(f"cannot reach the database: {exc.orig}", 1)
        raise


if __name__ == "__main__":
    sys.exit(main())
