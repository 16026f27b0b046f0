"""Shared helpers of the catalogue, harvest and OAI-PMH tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.conftest import shared_path


def ri_portal_sample(dest: Path, n_regional: int = 300, n_national: int = 60, seed: int = 14):
    """A random sample of both ri-portal files, written as ri-portal JSON (same layout,
    with institutes.json beside them). Returns (regional file, national file)."""
    src = shared_path("data", "ri-portal")
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, n in (
        ("allreports_normalized.json", n_regional),
        ("nationalreport.json", n_national),
    ):
        records = json.loads((src / name).read_text(encoding="utf-8"))
        path = dest / name
        path.write_text(json.dumps(rng.sample(records, n), ensure_ascii=False), encoding="utf-8")
        out.append(path)
    (dest / "institutes.json").write_bytes((src / "institutes.json").read_bytes())
    return tuple(out)
