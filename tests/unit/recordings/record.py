"""Re-record the sandbox registry answers the connector tests replay.

Run ``.venv/bin/python tests/unit/recordings/record.py`` after changing a sandbox register;
tests/unit/test_registry_connectors.py fails while a recording and the sandbox disagree.
The population is built for a fixed day, so answers that depend on the date (income months,
semesters) are the same whenever the tests run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from sandbox.population import LazyPopulation  # noqa: E402
from sandbox.population_model import Population  # noqa: E402
from sandbox.registries import build_registries_app  # noqa: E402

RECORDED_ON = date(2026, 11, 20)
HERE = Path(__file__).parent
PURPOSE_HEADERS = {
    "X-Purpose": "Test",
    "X-Legal-Basis": "%C2%A7 1 Test",
    "X-Service": "test",
    "X-Actor": "citizen",
}

PETRA, KATRIN, ERIKA, LUKAS, CLAUDIA = (
    "87373197680",
    "18699346733",
    "86095742719",
    "28820020870",
    "45386140836",
)
NOWAK = "61835902741"


def married_parent(population: Population) -> str:
    """The first generated person who is married and has children: a full civil status."""
    return next(
        idnr
        for idnr, person in population.persons.items()
        if person.persona is None
        and idnr in population.marriages
        and len(population.children.get(idnr, [])) >= 2
    )


def recordings(population: Population) -> dict[str, tuple[str, dict[str, Any]]]:
    kfz = ["fahrzeuge", "anzahl_fahrzeuge", "kennzeichen", "fahrzeugklasse"] + [
        f"halteranschrift.{part}" for part in ("strasse", "hausnummer", "plz", "ort")
    ]
    gewerbe = [
        "betriebe",
        "anzahl_betriebe",
        "betrieb.name",
        "betrieb.taetigkeit",
        "betrieb.beginn",
    ]
    einkommen = [
        "beschaeftigt",
        "arbeitgeber",
        "nettoeinkommen.monate",
        "nettoeinkommen.durchschnitt_12_monate",
    ]
    hochschule = [
        "immatrikuliert",
        "hochschule",
        "studiengang",
        "abschluss",
        "fachsemester",
        "semester",
        "immatrikuliert_seit",
    ]
    personenstand = [
        "familienstand",
        "eheschliessung.datum",
        "eheschliessung.ort",
        "ehegatte.vornamen",
        "ehegatte.familienname",
        "kinder",
        "anzahl_kinder",
        "juengstes_kind.vornamen",
        "juengstes_kind.familienname",
        "juengstes_kind.geburtsdatum",
        "juengstes_kind.geburtsort",
    ]
    geo = ["in_bewohnerparkgebiet", "bewohnerparkgebiet", "bewohnerparkgebiet.name"]
    melde = [
        "familienname",
        "anschrift.strasse",
        "anschrift.plz",
        "fruehere_anschrift.ort",
        "einzugsdatum",
        "auskunftssperre",
    ]
    kfz_path = "/kfz-zulassungsregister/v1/halter/abfrage"
    geo_path = "/geodaten/v1/bewohnerparken/abfrage"
    return {
        "kfz_petra_two_vehicles": (kfz_path, {"idnr": PETRA, "attribute": kfz}),
        "kfz_katrin_one_vehicle": (kfz_path, {"idnr": KATRIN, "attribute": kfz}),
        "kfz_erika_no_vehicle": (kfz_path, {"idnr": ERIKA, "attribute": kfz}),
        "gewerbe_petra": (
            "/gewerberegister/v1/inhaber/abfrage",
            {"idnr": PETRA, "attribute": gewerbe},
        ),
        "einkommen_katrin": (
            "/einkommensregister/v1/beschaeftigte/abfrage",
            {"idnr": KATRIN, "attribute": einkommen},
        ),
        "einkommen_person_unbekannt": (
            "/einkommensregister/v1/beschaeftigte/abfrage",
            {"idnr": NOWAK, "attribute": einkommen},
        ),
        "hochschule_lukas": (
            "/hochschulregister/v1/studierende/abfrage",
            {"idnr": LUKAS, "attribute": hochschule},
        ),
        "hochschule_erika_not_enrolled": (
            "/hochschulregister/v1/studierende/abfrage",
            {"idnr": ERIKA, "attribute": hochschule},
        ),
        "personenstand_married_parent": (
            "/personenstandsregister/v1/personen/abfrage",
            {"idnr": married_parent(population), "attribute": personenstand},
        ),
        "geodaten_in_zone": (
            geo_path,
            {
                "anschrift": {"strasse": "Lütticher Straße", "hausnummer": "9", "plz": "50674"},
                "attribute": geo,
            },
        ),
        "geodaten_outside_zones": (
            geo_path,
            {
                "anschrift": {"strasse": "Kapellenstraße", "hausnummer": "8", "plz": "50997"},
                "attribute": geo,
            },
        ),
        "geodaten_adresse_unbekannt": (
            geo_path,
            {
                "anschrift": {"strasse": "Gibtsnichtweg", "hausnummer": "1", "plz": "50000"},
                "attribute": geo,
            },
        ),
        "melderegister_claudia_auskunftssperre": (
            "/melderegister/v1/personen/abfrage",
            {"idnr": CLAUDIA, "attribute": melde},
        ),
    }


def sandbox_app() -> tuple[Any, Population]:
    population = LazyPopulation(today=RECORDED_ON)
    return build_registries_app(population=population), population.get()


async def answer(app: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        return await client.post(path, json=body, headers=PURPOSE_HEADERS)


def main() -> None:
    app, population = sandbox_app()
    for name, (path, body) in recordings(population).items():
        response = asyncio.run(answer(app, path, body))
        record = {
            "request": {"path": path, "json": body},
            "response": {"status": response.status_code, "json": response.json()},
        }
        text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        (HERE / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"recorded {name}: HTTP {response.status_code}")


if __name__ == "__main__":
    main()
