#!/usr/bin/env python3
"""Fallback audit of a constraints file against PyPI's project JSON API (``make audit-pins``).

``pip-audit`` asks ``https://pypi.org/pypi/NAME/VERSION/json`` (or OSV) for the advisories of
each pinned version.  Where only the project endpoint ``https://pypi.org/pypi/NAME/json`` is
reachable (a registry proxy), this script does the next best thing with it:

* "latest" means the newest release that supports the Python running this script;
* a pin equal to the latest release gets that release's advisories (the ``vulnerabilities``
  field, PyPI's advisory database, the one pip-audit's default service reads); any advisory
  listed there has no fixed version yet, so it is reported but does not fail the check;
* a pin older than the latest release is reported as ``BEHIND`` (it could not be audited, and
  a newer release, possibly with fixes, exists); it fails the check unless it is listed in
  ``HELD`` below with the reason it cannot move.

Usage: audit-pins.py [constraints.txt] ; exit status 1 if a pin is behind and not held, or a
project cannot be looked up.
"""

import json
import re
import sys
import urllib.request

from packaging.specifiers import SpecifierSet
from packaging.version import Version

PYTHON = "%d.%d.%d" % sys.version_info[:3]  # run it with the image's Python (3.11)

# Pins that cannot move to the latest release, and why (checked by hand; keep short).
HELD = {
    "webargs": "deepaas 2.6.0 requires webargs<6",
    "marshmallow": "deepaas 2.6.0 requires marshmallow<4",
    "apispec": "aiohttp-apispec 2.2.3 (deepaas 2.6.0) requires apispec<4",
    "aiohttp-apispec": "deepaas 2.6.0 requires aiohttp-apispec<3",
    "werkzeug": "deepaas 2.6.0 requires werkzeug<3; 2.3.8 is affected by advisories fixed "
                "in 3.x only (CVE-2024-34069 debugger, CVE-2024-49767 multipart parsing, "
                "CVE-2024-49766/CVE-2025-66221 safe_join on Windows); neither deepaas nor MODS "
                "imports werkzeug (aiohttp serves and parses)",
    "stevedore": "deepaas 2.6.0 requires stevedore<4",
    "oslo-config": "deepaas 2.6.0 requires oslo.config<9",
    "oslo-log": "deepaas 2.6.0 requires oslo.log<5",
    "h5py": "tensorflow-cpu 2.21 requires h5py<3.15",
    "pandas": "requirements.txt: pandas<3 (MODS not yet checked on pandas 3)",
    "py4j": "pyspark pins py4j<0.10.9.10",
}

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def latest(name):
    """(newest release installable on this Python, advisories of the newest release)."""
    url = "https://pypi.org/pypi/%s/json" % name
    with urllib.request.urlopen(url, timeout=30) as resp:
        doc = json.load(resp)
    newest = doc["info"]["version"]
    if _python_ok(doc["info"].get("requires_python")):
        return newest, doc.get("vulnerabilities") or []
    # The newest release dropped this Python: compare with the newest one that supports it.
    ok = [v for v, files in doc.get("releases", {}).items()
          if files and not all(f.get("yanked") for f in files)
          and any(_python_ok(f.get("requires_python")) for f in files)]
    ok = [v for v in ok if not Version(v).is_prerelease]
    return (max(ok, key=Version) if ok else newest), None  # advisories: unknown


def _python_ok(spec):
    return not spec or PYTHON in SpecifierSet(spec)


def main(argv):
    path = argv[1] if len(argv) > 1 else "constraints.txt"
    pins = [m.groups() for m in map(PIN.match, open(path, encoding="utf-8")) if m]
    failed = 0
    counts = {"latest": 0, "held": 0, "behind": 0, "error": 0, "advisories": 0, "unknown": 0}
    for name, version in pins:
        try:
            newest, vulns = latest(name)
        except Exception as exc:  # noqa: BLE001 - report any lookup failure the same way
            print("ERROR   %-24s %-12s %s" % (name, version, exc))
            counts["error"] += 1
            failed = 1
            continue
        if newest == version:
            counts["latest"] += 1
            if vulns is None:
                counts["unknown"] += 1
                print("LATEST  %-24s %-12s newest release for Python %s (newer ones need a newer "
                      "Python); advisories not in the project JSON" % (name, version, PYTHON))
                continue
            live = [v for v in vulns if not v.get("withdrawn")]
            for vuln in live:
                counts["advisories"] += 1
                print("ADVISORY %-23s %-12s %s (no fixed release yet) %s"
                      % (name, version, vuln.get("id"), vuln.get("link", "")))
        elif norm(name) in HELD:
            counts["held"] += 1
            print("HELD    %-24s %-12s latest %s: %s" % (name, version, newest, HELD[norm(name)]))
        else:
            counts["behind"] += 1
            failed = 1
            print("BEHIND  %-24s %-12s latest %s: not audited, upgrade or hold it"
                  % (name, version, newest))
    print("audit-pins: %d pins: %d at the latest release (%d advisories without a fix, %d whose "
          "advisories are not published in the project JSON), %d held back, %d behind, "
          "%d lookup errors"
          % (len(pins), counts["latest"], counts["advisories"], counts["unknown"],
             counts["held"], counts["behind"], counts["error"]))
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
