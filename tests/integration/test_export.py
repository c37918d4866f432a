"""`knopfdruck export-case`: the full case file as a ZIP for the E-Akte, verifiable on its own."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT, Platform
from tests.integration.enginekit import notified_case


def _export(platform: Platform, case_id: str, target: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KNOPFDRUCK_DATABASE_URL": platform.settings.database_url,
        "KNOPFDRUCK_DATA_DIR": str(platform.settings.data_dir),
        "KNOPFDRUCK_SERVICES_DIR": str(platform.settings.services_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "knopfdruck.cli", "export-case", case_id, "-o", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_a_case_file_exports_with_documents_audit_chain_and_manifest(
    platform: Platform, tmp_path: Path
) -> None:
    api, case_id = notified_case(platform)
    case = api.get(f"/cases/{case_id}").json()
    result = _export(platform, case_id, tmp_path / "akte.zip")
    assert result.returncode == 0, result.stderr
    archive = zipfile.ZipFile(tmp_path / "akte.zip")
    names = archive.namelist()
    assert names[-1] == "manifest.json" and {"akte.json", "protokoll.json"} <= set(names)

    # Every file is listed with its hash, so the archive can prove it was not changed.
    manifest = json.loads(archive.read("manifest.json"))
    assert set(manifest) == set(names) - {"manifest.json"}
    for name, entry in manifest.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"], name

    # The documents are the ones the citizen downloads, byte for byte.
    [document] = case["documents"]
    issued = api.get(f"/cases/{case_id}/documents/{document['id']}").content
    [stored] = [n for n in names if n.startswith("dokumente/")]
    assert archive.read(stored) == issued

    file = json.loads(archive.read("akte.json"))
    assert file["case"]["id"] == case_id and file["case"]["reference"] == case["reference"]
    assert file["case"]["data"]["values"]["familienname"] == "Mustermann"  # readable, not sealed
    assert file["case"]["decision"]["outcome"] == "approved"
    log = json.loads(archive.read("protokoll.json"))
    assert log["chain"]["ok"] is True
    assert [e["seq"] for e in log["events"]] == list(range(1, len(log["events"]) + 1))
    assert {"submitted", "decided", "citizen_notified"} <= {e["type"] for e in log["events"]}
    assert all(len(e["hash"]) == 64 for e in log["events"])
    # Readable as a whole: nothing about the ZIP depends on the file system it was written on.
    assert zipfile.ZipFile(io.BytesIO((tmp_path / "akte.zip").read_bytes())).testzip() is None


def test_an_unknown_case_is_a_clear_error(platform: Platform, tmp_path: Path) -> None:
    result = _export(platform, "0" * 32, tmp_path / "none.zip")
    assert result.returncode == 1
    assert "no case with id" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "none.zip").exists()
