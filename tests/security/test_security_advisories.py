"""No pinned or installed dependency falls in a known advisory's affected range (offline).

advisories.json (next to this file) is the committed table: package, PEP 440 ranges, first fixed
release. The pins come from requirements.txt / requirements-dev.txt (every runtime requirement must
be pinned with ==), the installed versions from importlib.metadata. A failure names the advisory and
the release to move to.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from ftdemo.settings import REPO_ROOT

TABLE = Path(__file__).with_name("advisories.json")
REQUIREMENTS = (REPO_ROOT / "requirements.txt", REPO_ROOT / "requirements-dev.txt")
KEY_PACKAGES = {"gradio", "torch", "transformers", "jinja2", "requests", "urllib3", "pillow", "starlette", "fastapi",
                "pyarrow", "sqlalchemy"}
ID = re.compile(r"^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|ftdemo-issue-[\w.-]+)$")


def advisories() -> list[dict]:
    return json.loads(TABLE.read_text(encoding="utf-8"))["advisories"]


def affecting(package: str, version: str, table: list[dict] | None = None) -> list[dict]:
    """The advisories whose ranges contain `version` of `package`."""
    name, v = canonicalize_name(package), Version(version)
    return [a for a in (table if table is not None else advisories())
            if canonicalize_name(a["package"]) == name
            and any(SpecifierSet(spec, prereleases=True).contains(v) for spec in a["affected"])]


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version of a requirements file (following -r includes)."""
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            out.update(pins(path.parent / line[2:].strip()))
            continue
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        assert len(exact) == 1, f"{path.name}: {line!r} is not pinned with =="
        out[canonicalize_name(req.name)] = exact[0]
    return out


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def report(found: dict[str, str], where: str) -> list[str]:
    return [f"{where}: {name} {version} is affected by {a['id']} ({a['summary']}); move to >= {a['fixed']}"
            for name, version in sorted(found.items()) for a in affecting(name, version)]


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda p: p.name)
def test_pins_have_no_known_advisory(path) -> None:
    found = pins(path)
    assert {"gradio", "torch", "transformers"} <= set(found)
    problems = report(found, path.name)
    assert not problems, "\n".join(problems)


def test_installed_versions_have_no_known_advisory() -> None:
    problems = report(installed(), "installed")
    assert not problems, "\n".join(problems)


def test_the_table_is_well_formed() -> None:
    table = advisories()
    assert KEY_PACKAGES <= {canonicalize_name(a["package"]) for a in table}
    for a in table:
        assert ID.match(a["id"]), a["id"]
        assert a["summary"] and a["affected"], a["id"]
        specs = [SpecifierSet(s) for s in a["affected"]]  # raises on a malformed range
        assert not any(s.contains(Version(a["fixed"]), prereleases=True) for s in specs), \
            f"{a['id']}: the fixed release {a['fixed']} lies in its own affected range"
    assert len({(a["id"], canonicalize_name(a["package"])) for a in table}) == len(table), "duplicate entries"


@pytest.mark.parametrize(("package", "version", "advisory"), [
    ("torch", "2.5.1", "CVE-2025-32434"), ("gradio", "6.15.2", "ftdemo-issue-gradio-6.16"),
    ("gradio", "4.10.0", "CVE-2023-51449"), ("transformers", "4.35.2", "CVE-2023-6730"),
    ("Jinja2", "3.1.4", "CVE-2024-56326"), ("urllib3", "2.0.5", "CVE-2023-43804"),
    ("Pillow", "11.2.1", "CVE-2025-48379"),
])
def test_the_check_flags_an_affected_version(package, version, advisory) -> None:
    assert advisory in {a["id"] for a in affecting(package, version)}


@pytest.mark.parametrize(("package", "version"), [("torch", "2.8.0"), ("gradio", "6.16.0"), ("urllib3", "2.5.0"),
                                                  ("Pillow", "11.1.0"), ("jinja2", "3.1.6")])
def test_the_check_passes_a_fixed_version(package, version) -> None:
    assert affecting(package, version) == []
