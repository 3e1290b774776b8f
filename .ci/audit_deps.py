#!/usr/bin/env python3
"""`make audit-deps`: the pinned dependencies (constraints.txt, the whole resolved set) checked by pip-audit
against the PyPI vulnerability database.

A known vulnerability fails (exit 1). When the vulnerability service cannot be reached, or answers for none of
the packages (a mirror of PyPI without its JSON API), nothing was checked: that is said plainly and the run
does not fail, unless DEPS_AUDIT_REQUIRED=1 (then an unchecked run fails too).

    .venv/bin/python .ci/audit_deps.py [--requirements constraints.txt] [--pip-audit .venv/bin/pip-audit]
"""
import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Verdict:
    status: str  # "clean", "vulnerable", "unchecked"
    lines: list = field(default_factory=list)


def command(pip_audit, requirements, timeout=15):
    return [pip_audit, "--requirement", str(requirements), "--no-deps", "--disable-pip", "--format", "json",
            "--progress-spinner", "off", "--timeout", str(timeout)]


def judge(returncode, stdout, stderr):
    """Turn one pip-audit run into a verdict (pure: tested with made-up runs)."""
    try:
        report = json.loads(stdout)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        last = (stderr or "").strip().splitlines()[-1:] or [f"pip-audit exited with status {returncode}"]
        return Verdict("unchecked", [f"the vulnerability service could not be reached: {last[0]}"])
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    if vulnerable:
        lines = []
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                lines.append(f"{dep['name']} {dep.get('version', '')}: {vuln.get('id')} (fixed in {fixed})")
        return Verdict("vulnerable", lines)
    if not dependencies or len(skipped) == len(dependencies):
        return Verdict("unchecked", [f"the vulnerability service answered for none of the {len(dependencies)} "
                                     "packages (no access to the PyPI JSON API from this machine)"])
    lines = [f"{dep['name']}: {dep['skip_reason']}" for dep in skipped]
    return Verdict("clean", lines)


def main(argv=None, run=subprocess.run, environ=os.environ, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", default=str(PROJECT_DIR / "constraints.txt"))
    parser.add_argument("--pip-audit", default=str(PROJECT_DIR / ".venv" / "bin" / "pip-audit"))
    args = parser.parse_args(argv)
    try:
        done = run(command(args.pip_audit, args.requirements), capture_output=True, text=True, timeout=600)
        verdict = judge(done.returncode, done.stdout, done.stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        verdict = Verdict("unchecked", [f"pip-audit could not run: {exc}"])
    required = environ.get("DEPS_AUDIT_REQUIRED", "").lower() in {"1", "true", "yes"}
    if verdict.status == "vulnerable":
        print(f"audit-deps: FAILED, known vulnerabilities in {args.requirements}:", file=out)
        for line in verdict.lines:
            print(f"  {line}", file=out)
        return 1
    if verdict.status == "unchecked":
        print(f"audit-deps: NOT CHECKED ({'failing' if required else 'offline, not failing'}): "
              f"{verdict.lines[0]}. Run `make audit-deps` where PyPI's vulnerability data can be reached.", file=out)
        return 1 if required else 0
    print(f"audit-deps: no known vulnerabilities in {args.requirements}.", file=out)
    for line in verdict.lines:
        print(f"  not audited: {line}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
