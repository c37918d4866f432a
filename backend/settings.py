"""Typed settings from KNOPFDRUCK_* environment variables; built by a function, never at import."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PaymentProviderName = Literal["sandbox", "xbezahldienste"]
"""The payment providers that exist; settings refuse any other name at start-up."""


class Settings(BaseSettings):
    """Every knob of a Knopfdruck process. Defaults: the embedded setup, the sandbox off."""

    model_config = SettingsConfigDict(env_prefix="KNOPFDRUCK_", extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public URL of the portal, used in links and redirects.",
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the SQLite file and local secrets."
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: a SQLite file in data_dir (the embedded default)."
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        description="PostgreSQL connections a process keeps open per pool: the platform's, and "
        "DBOS's where cases are processed (worker, or serve with the in-process worker).",
    )
    db_max_overflow: int = Field(
        10,
        ge=0,
        description="Connections a pool may open beyond db_pool_size under load, closed after. "
        "Keep processes x 2 x (pool size + overflow) below PostgreSQL's max_connections.",
    )
    db_pre_ping: bool = Field(
        True,
        description="Test each PostgreSQL connection with a round trip before use, so a request "
        "never fails on a connection the server dropped. `knopfdruck worker` turns it off: its "
        "steps retry, and the ping was a quarter of a case's round trips (issue 22).",
    )
    services_dir: Path = Field(
        Path("services"), description="Folder holding one folder per service."
    )
    tenants_dir: Path | None = Field(
        None,
        description="Folder of tenants: one folder per authority with tenant.yaml and the "
        "overlays of the services it activates (docs/tenants.md). Empty: 'tenants' next to "
        "services_dir, so both travel together. A missing folder: no tenants.",
    )
    portal_config: Path = Field(
        Path("config/portal.yaml"),
        description="The operator's legal information: Impressum, data protection officer, "
        "accessibility statement, Leichte Sprache and DGS pages (docs/legal-pages.md).",
    )
    dev_reload: bool = Field(
        False,
        description=(
            "Integrators' dev mode: reload service definitions when their files change, keeping "
            "the last valid version on an invalid edit (never in production)."
        ),
    )
    dev_reload_interval_s: float = Field(
        1.0, description="How often dev mode looks for changed definition files."
    )
    definitions_poll_s: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often every web process and worker looks for a service version "
        "published in the designer (one indexed query) and then reloads the services folder, "
        "without a restart. With several machines the services folder must be shared storage.",
    )
    qa_sampling: bool = Field(
        True,
        description="Refer the random share of automated decisions each service declares "
        "(automation.qa_sample_rate) to a person. Production leaves it on; a test or staging "
        "platform whose expectations must be deterministic switches it off.",
    )
    sandbox: bool = Field(
        False,
        description="Mount the sandbox (test identity provider, registries, payments, FIT-Connect) "
        "in this process. Off unless enabled: `./scripts/run` enables it for the local demo.",
    )
    sandbox_allow_public_host_insecure: bool = Field(
        False,
        description="INSECURE: let the sandbox (test identities: anyone gets any token, a "
        "supervisor's included) run on a base_url that is not loopback. Only for a closed test "
        "system; without it `serve` refuses to start.",
    )
    oidc_issuer: str = Field(
        "",
        description="OIDC issuer URL. Empty: the in-process sandbox provider at base_url when "
        "the sandbox is on; otherwise serve and worker refuse to start.",
    )
    oidc_client_id: str = Field(
        "knopfdruck-portal", description="Client id of the portal at the IdP."
    )
    oidc_audience: str = Field(
        "knopfdruck", description="Audience that API access tokens must carry."
    )
    # --- token type and authorised party (issue 14, item 10; backend/auth/tokens.py) ----------
    oidc_api_clients: str = Field(
        "",
        description="Comma-separated client ids whose access tokens the API accepts (the "
        "token's client_id or azp claim). Empty: only the portal's own oidc_client_id.",
    )
    sandbox_idp_extra_clients: str = Field(
        "",
        description="Comma-separated client ids the sandbox identity provider serves besides "
        "oidc_client_id; it refuses every other client (invalid_client).",
    )
    registry_base_url: str = Field(
        "", description="Base URL of the registries. Empty: the in-process sandbox registries."
    )
    registry_timeout_s: float = Field(5.0, description="Timeout of one registry request.")
    registries_dir: Path = Field(
        Path("registries"),
        description=(
            "Folder of per-registry YAML files (base URL, timeouts, credentials, generic REST "
            "connectors); see registries/README.md. A missing folder means: defaults only."
        ),
    )
    worker_in_process: bool = Field(
        True, description="Run the case worker inside the web process (embedded default)."
    )
    worker_concurrency: int = Field(
        4, ge=1, le=1024, description="Cases one worker process handles at once."
    )
    worker_idle_poll_s: float = Field(
        1.0,
        ge=0.1,
        le=10.0,
        description=(
            "How often a worker looks for new work on a queue it runs nothing from (issue 22): "
            "an idle worker's cost, and the longest a new case waits to be picked up."
        ),
    )
    worker_id: str = Field(
        "", description="Executor id of this worker process. Empty: hostname-pid, unique."
    )
    render_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description=(
            "Render processes of a worker (issue 22): notice layout runs there. Unset: one per "
            "core in `knopfdruck worker`, none in serve's in-process worker. 0: in the worker's "
            "own threads."
        ),
    )
    worker_dead_after_s: float = Field(
        30.0, description="A worker silent this long is dead; the others recover its cases."
    )
    service_concurrency: int = Field(
        32, description="Cases of one service processed at once, across all workers."
    )
    registry_write_rate: int = Field(
        20, description="Write-backs started per registry and rate period, across all workers."
    )
    registry_write_period_s: float = Field(1.0, description="Rate period of registry writes.")
    registry_write_concurrency: int = Field(
        8, description="Write-backs in flight per registry, across all workers."
    )
    registry_write_attempts: int = Field(
        8, description="Attempts of one registry write before a person takes over."
    )
    registry_write_backoff_s: float = Field(
        0.5, description="Wait before the second attempt; doubles after each failure."
    )
    handover_base_url: str = Field(
        "",
        description="Root of the FIT-Connect Submission API (the part before /v1), which also "
        "serves the event log and its keys. Empty: the in-process sandbox.",
    )
    handover_callback_secret: str = Field(
        "",
        description="HMAC secret the platform trusts for handover status callbacks. Empty: the "
        "sandbox FIT-Connect's own secret when deliveries go to the sandbox in this process, "
        "else generated once in data_dir.",
    )
    handover_token_url: str = Field(
        "",
        description="OAuth2 token endpoint of the submission API (client credentials grant). "
        "Empty: <handover_base_url>/token.",
    )
    handover_client_id: str = Field(
        "",
        description="OAuth2 client id of the platform as a sender at the submission API. Empty: "
        "the sandbox FIT-Connect's client when deliveries go to the sandbox in this process, "
        "else deliveries fail and go to a person.",
    )
    handover_client_secret: str = Field(
        "", description="OAuth2 client secret belonging to handover_client_id."
    )
    handover_trust_anchors: str = Field(
        "",
        description="PEM file of the root certificates a destination's encryption key chain "
        "(x5c) must end in, e.g. the Verwaltungs-PKI root. Empty: the sandbox FIT-Connect's own CA "
        "when deliveries go to the sandbox in this process, else deliveries fail and go to a "
        "person.",
    )
    handover_routing_url: str = Field(
        "",
        description="FIT-Connect Routing API (GET /v1/routes?leikaKey=&ars=) that names each "
        "case's destination. Empty: the sandbox FIT-Connect's when deliveries go to the sandbox "
        "in this process, else the destination in the service's handover block.",
    )
    handover_region_key: str = Field(
        "053150000000",
        pattern=r"^\d{12}$",
        description="Amtlicher Regionalschlüssel (ARS) the Routing API is asked for, until "
        "tenancy gives every authority its own (default: Köln).",
    )
    handover_attempts: int = Field(
        8, description="Delivery attempts to a Fachverfahren before a person takes over."
    )
    handover_backoff_s: float = Field(
        0.5, description="Wait before the second delivery attempt; doubles after each failure."
    )
    # --- sandbox FIT-Connect destination (issue 14, item 8): never the platform's secrets ---
    sandbox_fitconnect_client_id: str = Field(
        "knopfdruck-sandbox-sender",
        description="Client id the sandbox FIT-Connect accepts at its token endpoint.",
    )
    sandbox_fitconnect_client_secret: str = Field(
        "",
        description="Client secret the sandbox FIT-Connect accepts. Empty: generated once into "
        "data_dir.",
    )
    sandbox_fitconnect_callback_secret: str = Field(
        "",
        description="HMAC secret the sandbox FIT-Connect signs its status callbacks with, "
        "distinct from handover_callback_secret. Empty: generated once into data_dir.",
    )
    session_idle_minutes: int = Field(30, ge=1, description="Portal session idle timeout.")
    session_warning_seconds: int = Field(
        120,
        ge=10,
        description="How long before an idle portal session ends the page warns and offers to "
        "extend it (WCAG 2.2.1 asks for at least 20 seconds).",
    )
    # --- request body limits (issue 14, item 5; knopfdruck/limits.py) -------------------------
    body_limit_bytes: int = Field(
        1024 * 1024,
        description="Largest request body of the JSON API and HTML forms; more is refused with "
        "413 while it streams in, before it is parsed.",
    )
    body_limit_upload_bytes: int = Field(
        64 * 1024 * 1024,
        description="Largest multipart/form-data body (file uploads; each file has its own, "
        "smaller limit from its service definition).",
    )
    body_limit_webhook_bytes: int = Field(
        64 * 1024,
        description="Largest body of signed notifications: payment webhooks and handover "
        "callbacks.",
    )
    # --- client addresses behind a reverse proxy (issue 14, item 9; knopfdruck/proxies.py) ----
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDR networks of reverse proxies whose "
        "X-Forwarded-For is believed (rate limits count per client address). Empty: the header "
        "is ignored and the connecting address is the client.",
    )
    # --- security: rate limits and field encryption (issue 9, docs/security.md) -------------
    rate_limit_window_s: int = Field(
        600, description="Length of the fixed window in which rate-limited requests are counted."
    )
    rate_limit_login_per_account: int = Field(
        60, description="Completed logins of one account per window (portal). 0: no limit."
    )
    rate_limit_login_per_ip: int = Field(
        600, description="Login starts and callbacks from one IP address per window. 0: no limit."
    )
    rate_limit_start_per_account: int = Field(
        200, description="Applications one account starts per window (portal, API). 0: no limit."
    )
    rate_limit_start_per_ip: int = Field(
        2000, description="Applications started from one IP address per window. 0: no limit."
    )
    rate_limit_feedback_per_account: int = Field(
        0, description="Feedback messages per account per window; feedback is anonymous, so 0."
    )
    rate_limit_feedback_per_ip: int = Field(
        30, description="Feedback messages from one IP address per window. 0: no limit."
    )
    rate_limit_submit_per_account: int = Field(
        200, description="Submissions of one account per window (portal and API). 0: no limit."
    )
    rate_limit_submit_per_ip: int = Field(
        2000, description="Submissions from one IP address per window. 0: no limit."
    )
    field_encryption_keys: str = Field(
        "",
        description="Comma-separated Fernet keys for income, IBAN and tax id at rest; the first "
        "encrypts, all decrypt (rotation). Empty: one key generated once into data_dir.",
    )
    authority_name: str = Field(
        "Stadt Köln – Bürgeramt",
        description="Letterhead of notices and receipts of a service that names no authority; "
        "the Rechtsbehelfsbelehrung always comes from the service's procedure.",
    )
    # --- engine: notices, payment, notifications (issue 4, part A) ---------------------------
    holiday_region: str = Field(
        "NW", description="Land whose public holidays end deadlines (two-letter code, e.g. NW)."
    )
    notice_deemed_delivery_days: int = Field(
        4, description="Days after sending on which a notice counts as announced (§ 41 VwVfG)."
    )
    payment_provider: PaymentProviderName = Field(
        "sandbox",
        description="Payment provider for new fees: sandbox or xbezahldienste. Another name "
        "stops the start, not the first payment.",
    )
    payment_base_url: str = Field(
        "", description="Payment provider API. Empty: the in-process sandbox provider."
    )
    payment_api_key: str = Field(
        "", description="API key at the payment provider. Empty: generated once into data_dir."
    )
    payment_webhook_secret: str = Field(
        "", description="HMAC secret of payment webhooks. Empty: generated once into data_dir."
    )
    payment_webhook_tolerance_s: int = Field(
        300, description="Webhooks signed longer ago than this are refused as replays."
    )
    payment_reminder_after_s: float = Field(
        3 * 86400.0, description="A fee not paid after this long gets a reminder."
    )
    payment_deadline_s: float = Field(
        14 * 86400.0, description="A fee not paid after this long cancels the application."
    )
    xbezahldienste_base_url: str = Field(
        "",
        description="Base URL of the XBezahldienste 1.2.0 payment platform (up to /api/v1). "
        "Empty: the in-process sandbox platform.",
    )
    xbezahldienste_originator_id: str = Field(
        "knopfdruck",
        pattern=r"^[\w-]{1,36}$",
        description="XBezahldienste originatorId: how the platform knows this online service.",
    )
    xbezahldienste_endpoint_id: str = Field(
        "05315000",
        pattern=r"^[\w-]{1,27}$",
        description="XBezahldienste endPointId (e.g. the AGS) of a fee whose booking names none.",
    )
    payment_provider_retry_s: float = Field(
        60.0, description="Pause before opening a payment again while the provider is down."
    )
    smtp_host: str = Field("", description="SMTP server for notification mails. Empty: no mail.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_from: str = Field(
        "Knopfdruck <noreply@knopfdruck.invalid>", description="Sender of notification mails."
    )
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_timeout_s: float = Field(10.0, description="Timeout of one SMTP conversation.")
    # --- operations: admission control and retention (issue 8, docs/operations.md) -----------
    admission_max_queue_depth: int = Field(
        10000,
        description="Cases waiting for a worker above which new submissions are asked to come "
        "back later (drafts are kept). 0: no limit.",
    )
    admission_max_inflight_submits: int = Field(
        64,
        description="Submissions one web process handles at once; more are asked to come back "
        "later at once instead of queueing up. 0: no limit.",
    )
    admission_retry_after_s: int = Field(
        300, description="Minimum wait named in a 'come back later' answer (Retry-After)."
    )
    admission_check_interval_s: float = Field(
        1.0, description="How long one web process reuses its reading of the queue depth."
    )
    retention_interval_s: float = Field(
        3600.0,
        description="How often each worker deletes cases past their service's retention "
        "period. 0: never (run `knopfdruck retention run` instead).",
    )
    retention_batch: int = Field(200, description="Cases deleted per retention transaction.")
    staff_directory_url: str = Field(
        "",
        description="SCIM 2.0 base URL of the staff directory (e.g. https://idp.example/scim/v2) "
        "the console lists colleagues from. Empty: the sandbox IdP's directory when the sandbox "
        "is on, otherwise staff the console has seen at login.",
    )
    staff_directory_token: str = Field(
        "", description="Bearer token for the staff directory (from the secret store)."
    )
    staff_directory_interval_s: float = Field(
        3600.0, description="How often each worker reads the staff directory. 0: never."
    )
    work_mail_interval_s: float = Field(
        300.0,
        description="How often each worker checks whether clerks' mails about new work are due "
        "(daily at 07:00 Berlin time or at most every 15 minutes, as each clerk chose). 0: never.",
    )
    # --- E-Akte hand-over in xdomea 3.0.0 (issue 16, item 1; docs/standards/xdomea.md) --------
    eakte_url: str = Field(
        "",
        description="HTTP endpoint of the E-Akte that takes xdomea 0605 ZIPs (POST) and answers "
        "with a 0630 ImportBestaetigen. Empty (and no eakte_dir): no scheduled hand-over, and "
        "retention does not wait for one.",
    )
    eakte_token: str = Field("", description="Bearer token sent to eakte_url, if it needs one.")
    eakte_dir: Path | None = Field(
        None,
        description="Folder the E-Akte imports from, instead of eakte_url: each 0605 ZIP is "
        "written there atomically; the written file is the receipt.",
    )
    eakte_recipient: str = Field(
        "", description="Name of the receiving E-Akte / DMS in the message's Empfaenger."
    )
    eakte_schedule: str = Field(
        "0 */5 * * * *",
        description="Cron schedule (with seconds) of the hand-over of closed cases.",
    )
    eakte_attempts: int = Field(
        5,
        description="Failed hand-overs of one case version before it is shown as failed in the "
        "console (retried there by hand).",
    )
    eakte_batch: int = Field(50, description="Cases handed over per scheduled run.")
    eakte_timeout_s: float = Field(60.0, description="Timeout of one upload to eakte_url.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        """A typo in the proxy list must stop start-up, not silently trust nobody (or all)."""
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is no IP address or CIDR network") from exc
        return value

    def tenants_folder(self) -> Path:
        """The tenants folder: the configured one, else 'tenants' next to the services."""
        # Computed at each call: a command that points services_dir elsewhere (--services)
        # takes the tenants next to that folder, not the ones next to the default.
        return self.tenants_dir or (self.services_dir.parent / "tenants").resolve()

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        base = self.base_url.rstrip("/")
        self.base_url = base
        # Folders are fixed at start-up: a relative KNOPFDRUCK_SERVICES_DIR means relative to
        # where the process started, and every later join (templates, registries) sees one path.
        self.services_dir = self.services_dir.resolve()
        if self.tenants_dir is not None:
            self.tenants_dir = self.tenants_dir.resolve()
        self.registries_dir = self.registries_dir.resolve()
        self.portal_config = self.portal_config.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'knopfdruck.db').as_posix()}"
        if not self.oidc_issuer:
            self.oidc_issuer = f"{base}/sandbox/idp"
        if not self.registry_base_url:
            self.registry_base_url = f"{base}/sandbox/registries"
        if not self.handover_base_url:
            self.handover_base_url = f"{base}/sandbox/fitconnect"
        if not self.payment_base_url:
            self.payment_base_url = f"{base}/sandbox/payments"
        if not self.xbezahldienste_base_url:
            self.xbezahldienste_base_url = f"{base}/sandbox/xbezahldienste/api/v1"
        return self

    @property
    def api_clients(self) -> tuple[str, ...]:
        """The authorised parties whose access tokens the API accepts."""
        listed = tuple(c.strip() for c in self.oidc_api_clients.split(",") if c.strip())
        return listed or (self.oidc_client_id,)

    @property
    def sandbox_idp_clients(self) -> tuple[str, ...]:
        """The clients the sandbox IdP issues codes and tokens to."""
        extra = (c.strip() for c in self.sandbox_idp_extra_clients.split(",") if c.strip())
        return (self.oidc_client_id, *extra)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_local(self) -> bool:
        """Plain HTTP is allowed only on loopback (Secure cookies and HSTS elsewhere)."""
        return self.base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
