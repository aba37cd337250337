"""Every Snakemake command the README shows runs as written: each is dry-run (`-n` added where
the README runs it for real) from the project folder, the config files it names given as a
copy of config/config.yaml. A report command needs a finished run and a `--use-conda` one needs
conda (unreachable here): those two kinds are listed, not run."""

import re
import shlex
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NOT_RUN = ("--report", "--use-conda")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        found += [" ".join(line.split("  #")[0].split()) for line in block.splitlines()
                  if line.startswith("snakemake")]
    for span in re.findall(r"`(snakemake [^`]*)`", text, flags=re.S):
        found.append(" ".join(span.split()))
    return list(dict.fromkeys(c for c in found if c.startswith("snakemake -")))


def test_the_readme_shows_the_commands_this_test_runs():
    commands = readme_commands()
    assert sum("paper_size.yaml" in c for c in commands) >= 5
    assert any("--profile profiles/slurm" in c for c in commands)
    assert any(c == "snakemake --cores all --configfile my_config.yaml" for c in commands)


@pytest.mark.parametrize("command", [c for c in readme_commands()
                                     if not any(flag in c for flag in NOT_RUN)])
def test_readme_command_dry_runs(run_snakemake, tmp_path, command):
    args = shlex.split(command)[1:]
    for name in ("my_config.yaml", "my_study.yaml"):
        if name in args:
            shutil.copy(ROOT / "config" / "config.yaml", tmp_path / name)
            args[args.index(name)] = str(tmp_path / name)
    if "-n" not in args:
        args.append("-n")
    res = run_snakemake(*args, cwd=ROOT, timeout=600)
    assert res.returncode == 0, f"{command}\n{res.stdout[-2000:]}{res.stderr[-3000:]}"
