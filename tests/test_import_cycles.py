"""The import-cycle check of `make lint` (.ci/import_cycles.py): it finds a cycle hidden in a function, a cycle
between areas made of modules that do not import each other, lets an area's api.py be an edge, and finds none in
this project."""
import subprocess
import sys
from textwrap import dedent

from service.config import PROJECT_DIR

CHECK = PROJECT_DIR / ".ci" / "import_cycles.py"


def check(root=None):
    args = [sys.executable, str(CHECK)] + (["--root", str(root)] if root else [])
    return subprocess.run(args, capture_output=True, text=True)


def tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    (root / "admin").mkdir(exist_ok=True)
    return root


def test_this_project_has_no_import_cycle():
    result = check()
    assert result.returncode == 0, result.stdout
    assert "no import cycle:" in result.stdout


def test_a_cycle_hidden_inside_a_function_is_found(tmp_path):
    root = tree(tmp_path, {
        "service/__init__.py": "",
        "service/a/__init__.py": "",
        "service/a/operations.py": "from service.a.queries import x\n",
        "service/a/queries.py": "def x():\n    from service.a import operations\n    return operations\n",
    })
    result = check(root)
    assert result.returncode == 1
    assert "import cycle between modules: service.a.operations ↔ service.a.queries" in result.stdout


def test_a_cycle_between_areas_is_found_and_an_api_module_is_an_edge(tmp_path):
    root = tree(tmp_path, {
        "service/__init__.py": "",
        "service/flags/__init__.py": "",
        "service/flags/operations.py": "from service.submissions.models import Submission\n",
        "service/submissions/__init__.py": "",
        "service/submissions/models.py": "Submission = object\n",
        "service/submissions/checks.py": "from service.flags.operations import apply\n",
        "service/units/__init__.py": "",
        "service/units/models.py": "",
        "service/units/api.py": "from service.flags import operations\n",
    })
    result = check(root)
    assert result.returncode == 1
    assert "import cycle between areas: service.flags ↔ service.submissions" in result.stdout
    assert "service.units" not in result.stdout  # units.api -> flags is an edge, no area cycle through units
