"""`knopfdruck tenants …` and the tenant side of `services test` and `services validate`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.settings import get_settings
from knopfdruck.cli import main
from tests.unit.test_tenants import _line_of, _replace

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
TENANTS = ROOT / "tenants"


@pytest.fixture(autouse=True)
def platform_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The repository's services and tenants, whatever the shell says; secrets go to tmp."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("KNOPFDRUCK_SERVICES_DIR", str(SERVICES))
    monkeypatch.setenv("KNOPFDRUCK_REGISTRIES_DIR", str(ROOT / "registries"))
    monkeypatch.setenv("KNOPFDRUCK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KNOPFDRUCK_TENANTS_DIR", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _copy_tenants(tmp_path: Path) -> Path:
    target = tmp_path / "tenants"
    shutil.copytree(TENANTS, target)
    return target


def _break_department(tenants: Path) -> str:
    """Bergheim's parking permit names an office Bergheim does not have; the problem line."""
    file = tenants / "bergheim" / "services" / "anwohnerparkausweis.yaml"
    _replace(file, "department: strassenverkehrsamt", "department: bauamt")
    return (
        f"{file.as_posix()}:{_line_of(file, 'department: bauamt')} department: unknown department "
        "'bauamt' (tenant 'bergheim' has: strassenverkehrsamt, steueramt, ordnungsamt, buergeramt)"
    )


# tenants validate and list


def test_validate_the_repository_tenants(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tenants", "validate"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"{TENANTS}: 3 tenant(s) with 9 activated service(s) valid\n"


def test_validate_names_a_broken_overlay_by_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = _copy_tenants(tmp_path)
    line = _break_department(tenants)

    code = main(["tenants", "validate", "--tenants", str(tenants)])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.splitlines() == [line, "1 problem(s) found"]


def test_validate_without_a_tenants_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["tenants", "validate", "--tenants", str(tmp_path / "nowhere")])
    assert code == 2
    assert capsys.readouterr().err == f"knopfdruck: {tmp_path / 'nowhere'}: no such directory\n"


def test_list_prints_each_tenant_with_its_ars_and_services(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["tenants", "list"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    rows = [line.split()[:3] for line in out.splitlines()]
    assert rows == [
        ["bergheim", "053620008008", "NW"],
        ["koeln", "053150000000", "NW"],
        ["neuenhaus", "034565402014", "NI"],
    ]
    assert out.splitlines()[2].endswith(" maengelmelder")
    assert "Stadt Bergheim" in out.splitlines()[0]


# tenants new


def test_new_scaffolds_a_tenant_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tenants", "new", "huerth", "--ars", "053620024024", "--name", "Stadt Hürth"]

    assert main([*args, "--tenants", str(tmp_path)]) == 0

    file = tmp_path / "huerth" / "tenant.yaml"
    assert capsys.readouterr().out.splitlines()[0] == f"created {file}"
    text = file.read_text(encoding="utf-8")
    assert "id: huerth\n" in text
    assert 'ars: "053620024024"\n' in text
    assert "land: NW\n" in text
    assert 'name: "Stadt Hürth"\n' in text
    assert (tmp_path / "huerth" / "services").is_dir()
    assert (tmp_path / "huerth" / "tests").is_dir()

    file.write_text("id: huerth  # edited\n", encoding="utf-8")
    assert main([*args, "--tenants", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"knopfdruck: {tmp_path / 'huerth'} already exists\n"
    assert file.read_text(encoding="utf-8") == "id: huerth  # edited\n"  # not overwritten


@pytest.mark.parametrize(
    ("tenant_id", "ars", "message"),
    [
        ("Hürth", "053620024024", "'Hürth' is no slug"),
        ("huerth", "05362002402", "'05362002402' is no Amtlicher Regionalschlüssel"),
        ("huerth", "993620024024", "'993620024024' is no Amtlicher Regionalschlüssel"),
    ],
    ids=["slug", "ars-too-short", "ars-without-land"],
)
def test_new_refuses_a_bad_slug_or_ars_in_one_line(
    tenant_id: str, ars: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "tenants",
            "new",
            tenant_id,
            "--ars",
            ars,
            "--name",
            "Stadt Hürth",
            *("--tenants", str(tmp_path)),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"knopfdruck: {message}")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# tenants activate


def test_activate_refuses_a_service_that_declares_nothing_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = _copy_tenants(tmp_path)

    code = main(["tenants", "activate", "bergheim", "kindergeld", "--tenants", str(tenants)])

    assert code == 2
    assert capsys.readouterr().err == (
        "knopfdruck: service 'kindergeld' declares nothing local and cannot be activated by a "
        "tenant\n"
    )
    assert not (tenants / "bergheim" / "services" / "kindergeld.yaml").exists()


def test_activate_writes_an_overlay_skeleton_that_validate_holds_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = _copy_tenants(tmp_path)
    file = tenants / "bergheim" / "services" / "anwohnerparkausweis.yaml"
    file.unlink()
    args = ["tenants", "activate", "bergheim", "anwohnerparkausweis", "--tenants", str(tenants)]

    assert main(args) == 0

    assert capsys.readouterr().out.splitlines()[0] == f"created {file}"
    text = file.read_text(encoding="utf-8")
    assert "service: anwohnerparkausweis\n" in text
    assert 'department: "strassenverkehrsamt"\n' in text
    assert "  jahresgebuehr:\n" in text
    assert 'fee_references:\n  gebuehr: "TODO: your statute"\n' in text

    assert main(args) == 2  # never overwrites
    assert capsys.readouterr().err == f"knopfdruck: {file} already exists\n"

    assert main(["tenants", "validate", "--tenants", str(tenants)]) == 1
    problems = capsys.readouterr().err.splitlines()[:-1]
    assert problems
    assert all(line.startswith(f"{file.as_posix()}:") for line in problems)
    where = f"{file.as_posix()}:{_line_of(file, 'value: ')}"
    assert f"{where} parameters.jahresgebuehr[0].value: unfinished: TODO" in problems


def test_activate_an_unknown_tenant_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = _copy_tenants(tmp_path)
    code = main(["tenants", "activate", "huerth", "maengelmelder", "--tenants", str(tenants)])
    assert code == 2
    assert capsys.readouterr().err == (
        "knopfdruck: unknown or invalid tenant 'huerth' (see `tenants validate`)\n"
    )


# services test with tenants


def test_services_test_runs_a_tenants_cases_against_its_activation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["services", "test", "--tenant", "bergheim", "-v"])

    out, _err = capsys.readouterr()
    assert code == 0, out
    lines = out.splitlines()
    assert (
        "PASS  anwohnerparkausweis :: Stefan in der Bergheimer Innenstadt – Bergheimer Gebühr 2026"
        " (approved)"
    ) in lines
    assert (
        "PASS  hundesteuer-anmeldung :: Stefan meldet seinen ersten Hund in Bergheim an – "
        "Bergheimer Satz (approved)"
    ) in lines
    assert lines[-1] == "10 passed, 0 failed, 10 case(s) in 4 service(s)"
    assert "Zone K-12" not in out  # the templates' and Köln's cases are not this tenant's


def test_services_test_with_an_unknown_tenant_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["services", "test", "--tenant", "nowhere"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.splitlines()[-1] == (
        "knopfdruck: unknown or invalid tenant 'nowhere' (bergheim, koeln, neuenhaus)"
    )


def test_a_tenant_case_with_a_wrong_amount_fails_at_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants = _copy_tenants(tmp_path)
    file = tenants / "bergheim" / "tests" / "anwohnerparkausweis.yaml"
    _replace(file, "amounts: {gebuehr: 60.00}", "amounts: {gebuehr: 61.00}")
    line = _line_of(file, "Bergheimer Gebühr 2026")

    code = main(
        [
            "services",
            "test",
            "anwohnerparkausweis",
            *("--tenant", "bergheim", "--tenants", str(tenants)),
        ]
    )

    out, _err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert (
        "FAIL  anwohnerparkausweis :: Stefan in der Bergheimer Innenstadt – Bergheimer Gebühr "
        f"2026  [{file}:{line}]"
    ) in lines
    assert "      amounts.gebuehr: expected 61.0, got 60.00" in lines
    assert lines[-1] == "3 passed, 1 failed, 4 case(s) in 1 service(s)"


def test_a_template_case_naming_an_unknown_tenant_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = tmp_path / "services"
    shutil.copytree(SERVICES / "anwohnerparkausweis", services / "anwohnerparkausweis")
    cases = services / "anwohnerparkausweis" / "tests" / "cases.yaml"
    with cases.open("a", encoding="utf-8") as handle:
        handle.write(
            "  - name: Katrin bei einer Stadt, die es nicht gibt\n"
            "    persona: katrin\n"
            "    tenant: nirgendwo\n"
            "    reference_date: 2026-03-01\n"
            "    expect: {outcome: approved}\n"
        )
    line = _line_of(cases, "Katrin bei einer Stadt, die es nicht gibt")
    # Bergheim alone, with only the service this tree has.
    tenants = tmp_path / "tenants"
    (tenants / "bergheim" / "services").mkdir(parents=True)
    for name in ("tenant.yaml", "logo.svg", "services/anwohnerparkausweis.yaml"):
        shutil.copy(TENANTS / "bergheim" / name, tenants / "bergheim" / name)

    code = main(["services", "test", "--services", str(services), "--tenants", str(tenants)])

    out, err = capsys.readouterr()
    assert code == 1
    assert tenants.as_posix() not in err  # the tenant and its overlay are valid
    lines = out.splitlines()
    failing = [index for index, text in enumerate(lines) if text.startswith("FAIL")]
    assert len(failing) == 1
    assert lines[failing[0]] == (
        f"FAIL  anwohnerparkausweis :: Katrin bei einer Stadt, die es nicht gibt  [{cases}:{line}]"
    )
    assert lines[failing[0] + 1] == "      tenant: unknown tenant 'nirgendwo' (bergheim)"
    assert ", 1 failed, " in lines[-1]


# services validate checks the configured tenants too


def test_services_validate_fails_on_a_broken_overlay_in_the_configured_tenants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = tmp_path / "services"
    shutil.copytree(SERVICES, services)
    tenants = _copy_tenants(tmp_path)
    line = _break_department(tenants)
    monkeypatch.setenv("KNOPFDRUCK_SERVICES_DIR", str(services))
    monkeypatch.setenv("KNOPFDRUCK_TENANTS_DIR", str(tenants))
    get_settings.cache_clear()

    code = main(["services", "validate"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert line in err.splitlines()
    assert err.splitlines()[-1].startswith("1 problem(s) found")

    # One service folder has no tenants of its own: the overlay is not its concern.
    assert main(["services", "validate", str(services / "anwohnerparkausweis")]) == 0
    out, err = capsys.readouterr()
    assert line not in err
    assert out.startswith(f"{services / 'anwohnerparkausweis'}: all service definitions are valid")
