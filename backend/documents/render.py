"""Renders a service's notice template to a tagged PDF/A-3a that can go straight to the archive."""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import DataHandler, Request, url2pathname

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from backend.definitions.constraints import local_day
from backend.errors import KnopfdruckError

SHARED_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SHARED_STYLESHEET = "notice.css"
PDF_VARIANT = "pdf/a-3a"
SERVICE_TEMPLATES = "templates"


class RenderError(KnopfdruckError):
    """A notice could not be produced; names template, line and cause for the integrator."""

    status_code = 500
    code = "render_failed"

    def __init__(self, message: str, *, template: str, line: int | None = None) -> None:
        super().__init__(message)
        self.template = template
        self.line = line


class MissingValue(ValueError):
    """A notice would print 'None' where a value belongs: it is not issued like that."""


def _refuse_none(value: Any) -> Any:
    """Every printed value passes here: a None must never reach a notice as the word 'None'."""
    if value is None:
        raise MissingValue("prints a value that is missing (None); guard it with {% if %}")
    return value


class ResourceRefused(ValueError):
    """A template asked for a resource outside its templates; refused so nothing leaks in or out."""


def local_date(value: date | datetime | str) -> date:
    """The German day of a date, an instant (naive means UTC) or an ISO string: notices agree."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        # A naive instant is UTC, as every stored one is (SQLite drops the zone): after 23:00
        # UTC in winter it is already the next day on a German notice.
        return local_day(value)
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date, datetime or ISO date string, got {type(value).__name__}")


def date_de(value: date | datetime | str) -> str:
    """German numeric date (12.08.1964), the form German authorities print."""
    return str(format_date(local_date(value), "dd.MM.yyyy", locale="de_DE"))


def date_iso(value: date | datetime | str) -> str:
    """ISO day for machine-read metadata such as the PDF creation date."""
    return local_date(value).isoformat()


def money_de(value: Decimal | int | str) -> str:
    """German euro amount (36,00 €, with a no-break space) from an exact amount."""
    # A float cannot hold cents exactly; fees must arrive as Decimal, int or a decimal string.
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"amounts must be Decimal, int or str, got {type(value).__name__}")
    return str(format_currency(Decimal(value), "EUR", locale="de_DE"))


def iban_groups(value: str) -> str:
    """An IBAN in groups of four (DE02 1203 …), as DIN 5008 prints it for reading aloud."""
    compact = "".join(str(value).split())
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


class TemplateResourceFetcher(URLFetcher):
    """Lets WeasyPrint read template files and data: URLs only, never the network or other files."""

    def __init__(self, allowed_dirs: Sequence[Path]) -> None:
        # fail_on_errors: a refused resource stops the render; a legal document must not silently
        # lose its logo or QR code.
        super().__init__(
            allowed_protocols=("data", "file"), allow_redirects=False, fail_on_errors=True
        )
        self.allowed_dirs = tuple(directory.resolve() for directory in allowed_dirs)

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """Serve data: URLs and files inside the allowed directories; refuse everything else."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            with DataHandler().data_open(Request(url)) as response:
                data_headers = dict(response.headers.items())
                return URLFetcherResponse(url, response.read(), data_headers)
        if scheme == "file":
            path = self._allowed_file(url)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})
        raise ResourceRefused(f"{url}: templates may use only their own files and data: URLs")

    def _allowed_file(self, url: str) -> Path:
        """Resolve a file: URL and insist it lies inside an allowed directory (after symlinks)."""
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ResourceRefused(f"{url}: remote file URLs are not allowed")
        path = Path(url2pathname(parts.path)).resolve()
        inside = any(path.is_relative_to(directory) for directory in self.allowed_dirs)
        if not inside:
            raise ResourceRefused(f"{url}: outside the templates directories")
        if not path.is_file():
            raise ResourceRefused(f"{url}: no such file in the templates directories")
        return path


PoolLayout = Callable[[str, Path, Path], "bytes | None"]
_pool_layout: PoolLayout | None = None


def use_layout_pool(layout: PoolLayout | None) -> None:
    """Route this process's layouts to a render pool (backend/documents/pool.py), or, with
    None, back into the rendering thread."""
    global _pool_layout
    _pool_layout = layout


class ResourceUse(Exception):
    """A render process refused a template's resource; carries only the text of the refusal."""


def _refused(template: str, exc: FatalURLFetchingError) -> RenderError:
    return RenderError(
        f"Template {template!r} uses a resource it may not use: {exc.__cause__ or exc}",
        template=template,
    )


def shared_stylesheet(shared_templates_dir: Path) -> CSS:
    """The notices' stylesheet, parsed once per renderer or render process."""
    fetcher = TemplateResourceFetcher([shared_templates_dir])
    return CSS(filename=str(shared_templates_dir / SHARED_STYLESHEET), url_fetcher=fetcher)


def layout_pdf(
    markup: str,
    templates_dir: Path,
    shared_templates_dir: Path,
    stylesheet: CSS,
    font_config: FontConfiguration,
) -> bytes:
    """WeasyPrint's layout and PDF/A-3a output of finished markup: the costly half of a render,
    the same in this process and in a render process."""
    fetcher = TemplateResourceFetcher([shared_templates_dir, templates_dir])
    document = HTML(string=markup, base_url=templates_dir.as_uri() + "/", url_fetcher=fetcher)
    pdf: bytes = document.write_pdf(
        stylesheets=[stylesheet],
        pdf_variant=PDF_VARIANT,
        font_config=font_config,
        # <meta name="aktenzeichen"> lands in the PDF info, so archives can find the case.
        custom_metadata=True,
    )
    return pdf


class NoticeRenderer:
    """Turns a service's template and a case's values into a tagged, archivable PDF/A-3a."""

    def __init__(
        self, services_dir: Path, shared_templates_dir: Path = SHARED_TEMPLATES_DIR
    ) -> None:
        self.services_dir = services_dir.resolve()
        self.shared_templates_dir = shared_templates_dir.resolve()
        self._stylesheet = shared_stylesheet(self.shared_templates_dir)
        self._environments: dict[Path, ImmutableSandboxedEnvironment] = {}
        # Fonts are looked up once per thread, not per notice (issue 22: a new FontConfiguration
        # per render cost ~17 % of it); per thread because fontconfig state is not shared safely.
        self._fonts = threading.local()

    def _font_config(self) -> FontConfiguration:
        """This thread's font configuration, made at its first render and kept."""
        config: FontConfiguration | None = getattr(self._fonts, "config", None)
        if config is None:
            config = FontConfiguration()
            self._fonts.config = config
        return config

    def render(self, service_folder: Path, template: str, context: Mapping[str, Any]) -> bytes:
        """Produce the PDF/A-3a bytes of one document; the same inputs give the same bytes.

        The markup is made here; the layout runs in this process's render pool if it has one
        (backend/documents/pool.py, issue 22), else in this thread."""
        templates_dir = self._templates_dir(service_folder, template)
        markup = self.render_html(service_folder, template, context)
        try:
            pool = _pool_layout
            pooled = pool(markup, templates_dir, self.shared_templates_dir) if pool else None
            if pooled is not None:
                return pooled
            return layout_pdf(
                markup,
                templates_dir,
                self.shared_templates_dir,
                self._stylesheet,
                self._font_config(),
            )
        except FatalURLFetchingError as exc:
            raise _refused(template, exc) from exc
        except ResourceUse as exc:
            raise RenderError(
                f"Template {template!r} uses a resource it may not use: {exc}",
                template=template,
            ) from None

    def render_html(self, service_folder: Path, template: str, context: Mapping[str, Any]) -> str:
        """Fill the template; separate from PDF output so previews and tests can read the markup."""
        templates_dir = self._templates_dir(service_folder, template)
        environment = self._environment(templates_dir)
        name = template.removeprefix(f"{SERVICE_TEMPLATES}/")
        try:
            compiled = environment.get_template(name)
            if compiled.filename is None or not Path(compiled.filename).is_relative_to(
                templates_dir
            ):
                raise RenderError(
                    f"Template {name!r} is not in {templates_dir}; render the service's own "
                    "template, which extends the shared layout",
                    template=name,
                )
            return compiled.render(dict(context))
        except RenderError:
            raise
        except Exception as exc:
            raise self._explain(exc, name, templates_dir) from exc

    def _templates_dir(self, service_folder: Path, template: str) -> Path:
        """The service's templates directory; a folder outside the services directory is refused."""
        folder = (self.services_dir / service_folder).resolve()
        if not folder.is_relative_to(self.services_dir):
            raise RenderError(
                f"Service folder {service_folder} is outside {self.services_dir}", template=template
            )
        return (folder / SERVICE_TEMPLATES).resolve()

    def _environment(self, templates_dir: Path) -> ImmutableSandboxedEnvironment:
        """One sandboxed Jinja environment per service, kept so templates compile only once."""
        environment = self._environments.get(templates_dir)
        if environment is None:
            # Shared directory first: a service cannot replace the common layout (base.html).
            loader = ChoiceLoader(
                [FileSystemLoader(self.shared_templates_dir), FileSystemLoader(templates_dir)]
            )
            environment = ImmutableSandboxedEnvironment(
                loader=loader,
                autoescape=True,
                undefined=StrictUndefined,
                finalize=_refuse_none,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            environment.filters.update(
                date_de=date_de, date_iso=date_iso, money_de=money_de, iban_groups=iban_groups
            )
            self._environments[templates_dir] = environment
        return environment

    def _explain(self, exc: Exception, name: str, templates_dir: Path) -> RenderError:
        """Turn a Jinja or filter failure into a RenderError that says where and what."""
        if isinstance(exc, TemplateNotFound):
            return RenderError(
                f"Template {exc.name!r} not found in {templates_dir} or the shared templates",
                template=name,
            )
        if isinstance(exc, TemplateSyntaxError):
            where = exc.name or name
            return RenderError(
                f"Template {where!r}, line {exc.lineno}: syntax error: {exc.message}",
                template=where,
                line=exc.lineno,
            )
        where, line = self._template_frame(exc, name, templates_dir)
        position = f"Template {where!r}" + (f", line {line}" if line is not None else "")
        if isinstance(exc, UndefinedError):
            detail = f"uses a value the context does not provide: {exc.message}"
        elif isinstance(exc, SecurityError):
            detail = f"does something the sandbox forbids: {exc}"
        else:
            detail = f"failed: {type(exc).__name__}: {exc}"
        return RenderError(f"{position} {detail}", template=where, line=line)

    def _template_frame(
        self, exc: BaseException, name: str, templates_dir: Path
    ) -> tuple[str, int | None]:
        """The innermost template and line in the traceback (Jinja rewrites frames to templates)."""
        where, line = name, None
        traceback = exc.__traceback__
        while traceback is not None:
            filename = Path(traceback.tb_frame.f_code.co_filename)
            for directory in (templates_dir, self.shared_templates_dir):
                if filename.is_relative_to(directory):
                    where, line = filename.relative_to(directory).as_posix(), traceback.tb_lineno
            traceback = traceback.tb_next
        return where, line
