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
        assert not [r for r in pip if r.startswith("-e")], f"{env.name}: installs a local path"
        for req in pip:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", req).groups()
            expected = pins.get(name.lower(), constraints.get(name.lower()))
            assert expected is not None, f"{env.name}: {name} is not pinned in the project"
            assert version == expected, f"{env.name}: {name}=={version}, project pins {expected}"


def test_every_pyproject_pin_is_in_constraints(project_root):
    constraints = (project_root / "requirements" / "constraints.txt").read_text().lower()
    for name, version in pins_from_pyproject(project_root).items():
        assert f"{name}=={version}" in constraints, name


def test_jobs_run_the_package_from_the_workflow_source_without_an_install(project_root,
                                                                          tmp_path):
    """What a conda rule env is: the third-party pins (those of the project venv, which the
    tests above tie to every env file) and no hccer. A job's `hccer` (the shell function of
    hccer.runner) runs a real chain of steps there: synth, triage, convert, outcome."""
    import os
    import subprocess
    import sys
    import sysconfig

    from hccer.ids import SALT_ENV, TWIN_SALT, pseudonymise
    from hccer.runner import shell_function

    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    # a path entry, not a site dir: hccer's own editable .pth there is not processed
    (site / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run_env = dict(os.environ, PATH=f"{env / 'bin'}{os.pathsep}/usr/bin:/bin",
                   **{SALT_ENV: TWIN_SALT})
    run_env.pop("PYTHONPATH", None)
    bare = subprocess.run([str(env / "bin" / "python"), "-c", "import hccer"], env=run_env,
                          capture_output=True, text=True)
    assert bare.returncode != 0 and "No module named 'hccer'" in bare.stderr
    twin, out = tmp_path / "twin", tmp_path / "out"
    study = project_root / "config" / "studies" / "phase_attention.yaml"
    steps = [
        f"hccer synth --preset phase_attention --n 2 --matrix 64 --seed 3 --out {twin}",
        f"pid={pseudonymise('PA0001', TWIN_SALT)}",
        f"hccer triage --dicom-root {twin}/dicom --patient $pid --study {study} "
        f"--masks {twin}/masks.tsv --out-manifest {out}/m.tsv --out-status {out}/s.json",
        f"hccer convert --dicom-root {twin}/dicom {out}/nc.nii.gz --from-status {out}/s.json "
        "--phase NC --patient $pid",
        f"hccer outcome --clinical {twin}/clinical.csv --study {study} --out {out}/o.tsv "
        f"--flow {out}/f.json",
    ]
    src = str(project_root / "workflow_scripts")
    script = shell_function(src) + f"mkdir -p {out}; " + "; ".join(steps)
    res = subprocess.run(["bash", "-c", script], env=run_env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "nc.nii.gz").is_file() and (out / "o.tsv").read_text().count("\n") == 3
