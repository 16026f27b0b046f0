#!/usr/bin/env python3
"""The OAI-PMH 2.0 and oai_dc XML schemas, for validating /oai responses in the tests.

The schemas are not shipped in this repository (their licence does not say they may be
redistributed). They come from packages on the Python package index, fetched with pip:
OAI-PMH.xsd from the ``pyoai`` source distribution, oai_dc.xsd and simpledc20021212.xsd
from ``core-oaipmh-provider-app``, and the W3C xml.xsd (for xml:lang) from ``xmlschema``.
They are cached in ``.cache/oai-xsd`` (or ``$POLICYKB_OAI_XSD_DIR``).

    python3 scripts/oai_schemas.py        # fetch into the cache, print its path
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    # file -> (pip requirement, --no-binary, path suffix inside the archive)
    "OAI-PMH.xsd": ("pyoai==2.5.0", True, "src/oaipmh/tests/OAI-PMH.xsd"),
    "oai_dc.xsd": ("core-oaipmh-provider-app==2.23.0", True, "xsd/oai_dc.xsd"),
    "simpledc20021212.xsd": (
        "core-oaipmh-provider-app==2.23.0",
        True,
        "xsd/simpledc20021212.xsd",
    ),
    "xml.xsd": ("xmlschema==4.3.2", False, "xmlschema/schemas/XML/xml.xsd"),
}


def cache_dir() -> Path:
    return Path(os.environ.get("POLICYKB_OAI_XSD_DIR") or REPO / ".cache" / "oai-xsd")


def _members(archive: Path):
    if archive.name.endswith(".whl") or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                yield name, lambda n=name: z.read(n)
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile():
                    yield m.name, lambda m=m: t.extractfile(m).read()


def fetch(dest: Path | None = None) -> Path:
    """Download what is missing into ``dest`` (the cache); returns the directory."""
    dest = dest or cache_dir()
    missing = {f: spec for f, spec in PACKAGES.items() if not (dest / f).is_file()}
    if not missing:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for req, source_only, _ in {(s[0], s[1], "") for s in missing.values()}:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, req]
            if source_only:
                cmd[5:5] = ["--no-binary", ":all:"]
            subprocess.run(cmd, check=True)
        archives = list(Path(tmp).iterdir())
        for fname, (req, _, suffix) in missing.items():
            stem = req.split("==")[0].replace("-", "_").lower()
            for archive in archives:
                if not archive.name.lower().replace("-", "_").startswith(stem):
                    continue
                for name, read in _members(archive):
                    if name.endswith(suffix):
                        (dest / fname).write_bytes(read())
                        break
            if not (dest / fname).is_file():
                raise RuntimeError(f"{fname} not found in {req}")
    return dest


if __name__ == "__main__":
    print(fetch())
