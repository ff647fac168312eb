"""Rules the repository keeps: one home per library, documented commands, no registry hosts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.cli import cli

ROOT = Path(__file__).resolve().parents[1]

# Each third-party library is used from one place (a module, or a folder ending in /),
# so a change of library is a change of one part.
HOMES = {
    "click": {"cli/"},
    "tenacity": {"http/retries.py"},
    "httpx": {"http/client.py"},
    "httpcore": {"http/client.py", "http/backend.py", "http/pool.py", "http/connection.py"},
    "h11": {"http/connection.py"},
    "certifi": {"http/client.py"},
    "anyio": set(),
    "tldextract": {"domains.py"},
    "sqlite_utils": {"store/"},
    "datasette": {"publish/serve.py", "publish/datasette_plugin/"},
    "markupsafe": {"publish/datasette_plugin/"},
    "selectolax": {"sources/page.py", "extract/html.py"},
    "feedparser": {"sources/feed.py"},
    "charset_normalizer": {"sources/feed.py"},
    "yaml": {"publish/metadata.py"},
    "psutil": {"store/filesystems.py"},
    # The optional extra: loaded only when a run asks for a cluster.
    "distributed": {"cluster/connect.py"},
    "dask": set(),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "archiver").rglob("*.py")), ids=lambda p: p.name)
def test_libraries_stay_in_their_modules(path):
    where = path.relative_to(ROOT / "archiver").as_posix()
    for library, homes in HOMES.items():
        if library in imported_modules(path):
            assert any(where == home or (home.endswith("/") and where.startswith(home)) for home in homes), (
                f"{where} imports {library}"
            )


def test_the_package_ships_the_top_level_metadata():
    from importlib import resources

    shipped = resources.files("archiver").joinpath("metadata.yml").read_text(encoding="utf-8")
    assert shipped == (ROOT / "metadata.yml").read_text(encoding="utf-8")
    assert (ROOT / "archiver" / "metadata.yml").is_symlink()  # one file, not a copy to keep in step


@pytest.mark.parametrize("path", sorted((ROOT / "archiver").rglob("*.py")), ids=lambda p: p.name)
def test_no_private_attribute_or_module_of_another_library_is_used(path):
    """Only public APIs: no ``thing._name`` but on self or cls, no ``from lib._module import``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), ast.unparse(node)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            assert not any(p.startswith("_") and not p.startswith("__") for p in parts), node.module


def test_importing_archiver_changes_no_other_library():
    """Importing archiver patches nothing: httpcore and anyio keep their own classes."""
    import subprocess
    import sys

    probe = (
        "import anyio, httpcore, httpx, importlib, sys\n"
        "before = {n: dict(vars(m)) for n, m in sys.modules.items() if n.split('.')[0] in "
        "('anyio', 'httpcore', 'httpx', 'h11', 'tenacity', 'sqlite_utils')}\n"
        "import archiver.cli, archiver.resolve, archiver.pipeline\n"
        "changed = [f'{n}.{k}' for n, d in before.items() for k, v in d.items() "
        "if vars(sys.modules[n]).get(k) is not v]\n"
        "print(changed)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# Import names that differ from the distribution that provides them.
DISTRIBUTIONS = {
    "yaml": "pyyaml",
    "sqlite_utils": "sqlite-utils",
    "charset_normalizer": "charset-normalizer",
    "cdxj_indexer": "cdxj-indexer",
    "rfc3161_client": "rfc3161-client",
}


def test_every_imported_library_is_declared():
    """Each third-party module archiver imports, even lazily, is a declared dependency."""
    import re
    import sys
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        re.split(r"[<>=!~; \[]", requirement, maxsplit=1)[0].lower()
        for requirement in [*project["dependencies"], *project["optional-dependencies"]["cluster"]]
    }
    imported: set[str] = set()
    for path in (ROOT / "archiver").rglob("*.py"):
        imported |= imported_modules(path)
    own = ("archiver", "__future__")
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name not in own}
    missing = {name for name in third_party if DISTRIBUTIONS.get(name, name).lower() not in declared}
    assert third_party >= {"httpx", "httpcore", "certifi", "idna", "markupsafe", "yaml"}
    assert not missing, missing


def test_every_value_of_the_vocabulary_has_a_meaning():
    from archiver.models import MEANINGS, FoundBy, LinkStatus, RunStatus, SourceStatus, Via

    for vocabulary in (LinkStatus, FoundBy, Via, SourceStatus, RunStatus):
        assert set(MEANINGS[vocabulary]) == set(vocabulary), vocabulary.__name__


def test_commands_take_typed_options_not_a_bag_of_keywords():
    tree = ast.parse((ROOT / "archiver" / "cli" / "__init__.py").read_text(encoding="utf-8"))
    commands = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and any("command" in ast.unparse(d) for d in node.decorator_list)
    ]
    assert len(commands) >= 8
    for command in commands:
        assert command.args.kwarg is None, f"{command.name} takes **{command.args.kwarg.arg}"


def test_models_import_nothing_third_party():
    assert imported_modules(ROOT / "archiver" / "models.py") <= {"__future__", "dataclasses", "enum"}


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"archiver {name}" in readme, name


def test_no_tracked_file_names_a_package_registry_host():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # Written in pieces so that this file does not name them itself.
    names = [
        "pypi" + ".org",
        "pythonhosted" + ".org",
        "registry.npmjs" + ".org",
        "deb.debian" + ".org",
        "file:" + "///opt/",
    ]
    hosts = re.compile("|".join(re.escape(name) for name in names))
    offenders = [
        name
        for name in files
        if (ROOT / name).is_file() and hosts.search((ROOT / name).read_text(errors="ignore"))
    ]
    assert offenders == []


def test_readme_generated_sections_are_current():
    docs = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "README.md", "metadata.yml", *docs],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "README.md, metadata.yml or docs/ is out of date: run `make docs`\n" + result.stdout + result.stderr
    )
