"""Conda env files pin exactly the versions the pip/venv route installs."""

import re
import tomllib

import yaml


def pins_from_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += [d for d in extra if "==" in d]
    pins = {}
    for d in deps:
        name, version = d.lower().split("==")
        assert pins.setdefault(name, version) == version, f"{name} pinned twice differently"
    return pins


def test_env_stacks_mirror_extras(project_root):
    extras = tomllib.loads((project_root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for env in (project_root / "envs").glob("*.yaml"):
        stack = env.stem
        pip = next(d["pip"] for d in yaml.safe_load(env.read_text())["dependencies"]
                   if isinstance(d, dict))
        listed = {r.split("==")[0].lower() for r in pip if "==" in r}
        assert {d.split("==")[0].lower() for d in extras[stack]} <= listed, env.name


def test_env_files_match_pyproject(project_root):
    pins = pins_from_pyproject(project_root)
    constraints = dict(
        line.strip().lower().split("==")
        for line in (project_root / "requirements" / "constraints.txt").read_text().splitlines()
        if "==" in line)
    envs = sorted((project_root / "envs").glob("*.yaml"))
    assert len(envs) >= 4
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        deps = spec["dependencies"]
        assert "python=3.11" in deps, env.name
        pip = next(d["pip"] for d in deps if isinstance(d, dict))
        for req in pip:
            if req.startswith("-e"):
                continue
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", req).groups()
            expected = pins.get(name.lower(), constraints.get(name.lower()))
            assert expected is not None, f"{env.name}: {name} is not pinned in the project"
            assert version == expected, f"{env.name}: {name}=={version}, project pins {expected}"


def test_every_pyproject_pin_is_in_constraints(project_root):
    constraints = (project_root / "requirements" / "constraints.txt").read_text().lower()
    for name, version in pins_from_pyproject(project_root).items():
        assert f"{name}=={version}" in constraints, name
