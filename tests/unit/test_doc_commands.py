"""Every command the README and docs show still works, so that none can rot.

tests/unit/doc_commands.py extracts the commands (fenced ``sh`` and ``console`` blocks of
README.md, docs/*.md and the roles' READMEs). Each must be in CLASSES below, with its class:

- RUN: run as written from the repository root (with .venv/bin first on PATH, as after
  ``. .venv/bin/activate``); exit 0. A command tests/unit/test_no_warnings.py already runs is
  not run twice.
- HELP: destructive, slow, interactive or with placeholders: the program's help (for redisops
  and Ansible's tools, of the subcommand) exits 0 and names every option the command uses; a
  redisops command must also parse, and a playbook it names must exist (test_no_warnings.py
  syntax-checks every playbook).
- DRY_RUN: run as its dry run: ``make -n``; a generator's ``> FILE`` dropped (the output is not
  written); ``tools/role_docs.py --check``.
- LAB: read-only and cheap: tests/lab/test_doc_commands.py runs them as written on the deployed
  lab; here their options are checked as for HELP.
- HOST: runs outside this checkout, on a managed host or on the adopter's own machine (network,
  files that exist only there). Each program it runs must be a standard tool or one the other
  commands run. Each entry says why it is here.

A command missing from the table fails test_every_command_is_classified: add it.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.unit import doc_commands as D
from tests.unit import test_no_warnings as W

REPO = D.REPO
BIN = Path(sys.executable).parent
VENV_BIN = REPO / ".venv" / "bin"

RUN, HELP, DRY_RUN, LAB, HOST = "run", "help", "dry-run", "lab", "host"

CLASSES: dict[str, str] = {
    # README.md: set-up and the lab's first steps.
    "make demo": DRY_RUN,
    "make test": DRY_RUN,
    ".venv/bin/redisops check": LAB,
    ".venv/bin/redisops drill failover --scenario kill-primary": HELP,
    ".venv/bin/redisops drill backup": HELP,
    ".venv/bin/redisops lab status": LAB,
    ".venv/bin/ansible-playbook playbooks/status.yml": LAB,
    ".venv/bin/redisops monitoring targets": LAB,
    ".venv/bin/redisops lab ssh redis-1": HELP,  # an interactive shell
    ".venv/bin/redisops lab down": HELP,
    # docs/backups.md
    ".venv/bin/ansible-playbook playbooks/backup_timer.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/backup_timer.yml -e redis_backup_timer_enabled=false": HELP,
    ".venv/bin/ansible-playbook playbooks/backup.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/restore.yml -e redis_restore_confirm=redis-main": HELP,
    ".venv/bin/ansible-playbook playbooks/restore.yml -e redis_restore_confirm=GROUP"
    " -e redis_restore_backup=ID -e redis_restore_instance=main -e redis_restore_target=HOST": HELP,
    ".venv/bin/redisops lab ssh backup-1 /opt/redisops-kit/bin/redisops"
    " backup list --store /var/lib/redisops-backup/store": LAB,
    ".venv/bin/redisops lab ssh backup-1 /opt/redisops-kit/bin/redisops"
    " backup verify --store /var/lib/redisops-backup/store --group redis-main --id latest": LAB,
    # A real backup host, over SSH.
    "ssh deploy@backup-1.example.net sudo /opt/redisops-kit/bin/redisops"
    " backup list --store /var/lib/redisops-backup/store --format json": HOST,
    # docs/checks.md (templates/checks_catalogue.md.j2)
    ".venv/bin/redisops check -i inventories/lab --limit redis-1 --format json --output report.json": HELP,
    ".venv/bin/redisops check --format html --output report.html --fail-on medium -v": HELP,
    ".venv/bin/redisops check --threshold memory_used_warn=0.8 --waivers waivers.yml --no-host-facts": HELP,
    ".venv/bin/redisops check --state counters.json": HELP,
    ".venv/bin/redisops check --list": RUN,
    ".venv/bin/redisops check --explain MEM-01": RUN,
    ".venv/bin/ansible-playbook playbooks/compliance.yml -e redis_compliance_fail_on=medium"
    " --limit redis-1": HELP,
    ".venv/bin/ansible-playbook playbooks/compliance_timer.yml": HELP,
    # docs/deploy.md: the control node.
    "make": DRY_RUN,
    ". .venv/bin/activate": RUN,
    "redisops --version": RUN,
    "python3 -m venv ~/redisops-venv && . ~/redisops-venv/bin/activate": HOST,  # a venv of the adopter's own
    "pip install -r requirements/control.txt": HELP,
    "pip install --no-deps redis_ops_kit-0.2.0-py3-none-any.whl": HELP,
    "ansible-galaxy collection install --no-deps redisops-kit-0.2.0.tar.gz": HELP,
    # docs/deploy.md: preparing each managed host, as root.
    "apt-get install -y sudo python3": HOST,
    'adduser --disabled-password --gecos "" deploy': HOST,
    "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy": HOST,
    "install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh": HOST,
    "install -m 0600 -o deploy -g deploy redisops.pub /home/deploy/.ssh/authorized_keys": HOST,
    # docs/deploy.md: the adopter's inventory and vault, in their home and their copy.
    "cp -r inventories/example inventories/prod": HOST,
    "install -d -m 0700 ~/.config/redisops": HOST,
    "(umask 077; openssl rand -hex 32 > ~/.config/redisops/prod.vault-pass)": HOST,
    "export ANSIBLE_VAULT_PASSWORD_FILE=~/.config/redisops/prod.vault-pass": HOST,
    "cd inventories/prod/group_vars/all": HOST,
    "cp vault.yml.example vault.yml && chmod 0600 vault.yml": HOST,
    "ansible-vault encrypt vault.yml": HELP,
    "ansible-vault view vault.yml": HELP,
    # docs/deploy.md: ufw and firewalld on each Redis host.
    "for src in 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.21 203.0.113.5 203.0.113.10 198.51.100.0/24; do"
    ' sudo ufw allow proto tcp from "$src" to any port 6379,26379 comment redis-ops-kit done': HOST,
    "sudo ufw allow proto tcp from 203.0.113.10 to any port 9100,9121,9355 comment redis-ops-kit": HOST,
    'for src in 192.0.2.21 203.0.113.10; do sudo ufw allow proto tcp from "$src" to any port 22'
    " comment redis-ops-kit done": HOST,
    'rule() { sudo firewall-cmd --permanent --add-rich-rule="rule family=ipv4 source address=$1'
    ' port port=$2 protocol=tcp accept"; }': HOST,
    "for src in 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.21 203.0.113.5 203.0.113.10 198.51.100.0/24; do"
    ' rule "$src" 6379; rule "$src" 26379 done': HOST,
    'for port in 9100 9121 9355; do rule 203.0.113.10 "$port"; done': HOST,
    "rule 192.0.2.21 22; rule 203.0.113.10 22": HOST,
    "sudo firewall-cmd --reload": HOST,
    # docs/deploy.md: a copy of the adopter's PKI directory.
    "tar -C ~/.redisops -czf - pki | gpg --symmetric -o redisops-pki-$(date +%F).tar.gz.gpg": HOST,
    # docs/deploy.md: the run order and day 2, against the adopter's inventory.
    "ansible -i inventories/prod all -m ansible.builtin.ping": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.site --check --diff": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.site": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.status": HELP,
    "redisops check -i inventories/prod": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.compliance": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.compliance_timer": HELP,
    "redisops monitoring targets -i inventories/prod --dir prometheus/": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.alert_rules": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.backup_timer": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.backup": HELP,
    "redisops drill backup -i inventories/prod --confirm redis-main"
    " --format html --output backup-drill.html": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.rolling_restart -e redis_rolling_instance=main": HELP,
    "redisops drill failover -i inventories/prod --scenario kill-primary --dry-run": HELP,
    "redisops drill failover -i inventories/prod --scenario kill-primary --confirm redis-main"
    " --format html --output drill.html": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.restore -e redis_restore_confirm=redis-main"
    " -e redis_restore_backup=latest": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.rolling_restart -e redis_rolling_upgrade=true": HELP,
    "ansible-playbook -i inventories/prod redisops.kit.migrate_flavor -e redis_rolling_instance=main": HELP,
    # docs/development.md
    "make test-fast": DRY_RUN,
    '.venv/bin/pytest -q -m "not lab" tests': HELP,  # this very tier
    ".venv/bin/pytest -m lab tests/lab/test_backup.py": HELP,
    "make lint": DRY_RUN,
    ".venv/bin/python tools/role_docs.py --check": RUN,
    ".venv/bin/python tools/role_docs.py": DRY_RUN,
    ".venv/bin/redisops check --catalogue > docs/checks.md": DRY_RUN,
    ".venv/bin/python tools/alert_rules.py > monitoring/redis-ops-kit.rules.yml": DRY_RUN,
    "make bench": DRY_RUN,
    ".venv/bin/python -m bench --only servers": HELP,
    ".venv/bin/python -m bench --only scale --only impact --runs 5": HELP,
    '.venv/bin/redisops lab ssh redis-1 "FLAVOR=redis ROUNDS=5 REQUESTS=500000 sh -s"'
    " < bench/throughput.sh": HELP,
    ".venv/bin/redisops --help": RUN,
    ".venv/bin/redisops --version": RUN,
    ".venv/bin/redisops drill failover --help": RUN,
    ".venv/bin/ansible-playbook --syntax-check redisops.kit.site": RUN,
    ".venv/bin/ansible-doc -t role redisops.kit.redis_server": RUN,
    ".venv/bin/ansible-doc -t module redisops.kit.redis_managed_file": RUN,
    # docs/drills.md
    ".venv/bin/redisops drill failover --scenario kill-primary --dry-run": LAB,
    ".venv/bin/redisops drill failover --scenario hang-primary --runs 3"
    " --format html --output drill.html": HELP,
    ".venv/bin/redisops drill failover -i inventories/prod --group redis-main --scenario manual-failover"
    " --confirm redis-main": HELP,
    ".venv/bin/ansible-playbook playbooks/drill_failover.yml -e redis_drill_scenario=kill-primary": HELP,
    ".venv/bin/redisops drill backup --keys 10000 --format json --output backup-drill.json": HELP,
    ".venv/bin/redisops drill backup -i inventories/prod --group redis-main --confirm redis-main": HELP,
    ".venv/bin/redisops drill backup --alter-one-key": HELP,
    # docs/lab.md
    ".venv/bin/redisops lab up": HELP,
    ".venv/bin/redisops lab up --hosts 5 --image trixie --flavor valkey --subnet 10.213.8.0/24": HELP,
    ".venv/bin/redisops lab up --cluster-hosts 3": HELP,
    # docs/cluster.md (the cluster lab's run: tests/lab/test_cluster.py)
    ".venv/bin/ansible-playbook -i inventories/lab-cluster playbooks/cluster.yml": HELP,
    ".venv/bin/redisops lab status --format json": LAB,
    ".venv/bin/redisops lab ssh redis-1 systemctl status redis-server@main.service": HELP,  # Redis labs only
    ".venv/bin/redisops lab rebuild redis-2 redis-3": HELP,
    ".venv/bin/redisops lab image --image trixie": HELP,
    ".venv/bin/ansible-inventory --graph": RUN,
    ".venv/bin/ansible all -m ansible.builtin.ping": LAB,
    "REDISCLI_AUTH=$(cat /var/lib/redisops-lab/secrets/redis_admin) redis-cli --tls"
    " --cacert /var/lib/redisops-lab/pki/ca.crt --cert /var/lib/redisops-lab/pki/clients/redisops-control.crt"
    " --key /var/lib/redisops-lab/pki/clients/redisops-control.key -h 10.213.7.11"
    " --user admin info replication": LAB,
    # docs/monitoring.md
    ".venv/bin/ansible-playbook playbooks/monitoring.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/alert_rules.yml": HELP,
    ".venv/bin/redisops monitoring targets -i inventories/prod --dir prometheus/"
    " --rules redis-ops-kit.rules.yml": HELP,
    # docs/roles.md
    ".venv/bin/ansible-playbook playbooks/site.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/site.yml --tags config --check --diff": HELP,
    ".venv/bin/ansible-playbook playbooks/rolling_restart.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/rolling_restart.yml -e redis_rolling_instance=main"
    " -e redis_rolling_upgrade=true": HELP,
    # docs/valkey.md
    ".venv/bin/ansible-playbook playbooks/migrate_flavor.yml": HELP,
    ".venv/bin/ansible-playbook playbooks/migrate_flavor.yml -e redis_rolling_instance=main": HELP,
    # roles/*/README.md (generated by tools/role_docs.py): interactive, they ask for the secret.
    "ansible-vault encrypt_string --name redis_compliance_redis_password": HELP,
    "ansible-vault encrypt_string --name redis_exporter_redis_password": HELP,
    "ansible-vault encrypt_string --name redis_sentinel_auth_password": HELP,
    "ansible-vault encrypt_string --name redis_server_admin_password": HELP,
}

CLASSES.update(
    {
        # docs/clients.md: the lab quick start, one shell session (the variables carry from line to line,
        # so they cannot run one by one); tests/lab/test_clients.py runs the same example with the same
        # variables on the lab.
        "S=$(.venv/bin/ansible-inventory --host redis-1 | python3 -c 'import json,sys;"
        ' print(json.load(sys.stdin)["redisops_lab_state_dir"])\')': HOST,
        "export REDIS_SENTINELS=10.213.7.11:26379,10.213.7.12:26379,10.213.7.13:26379": HOST,
        "export REDIS_USERNAME=app REDIS_PASSWORD_FILE=$S/secrets/redis_app": HOST,
        "export REDIS_SENTINEL_USERNAME=app REDIS_SENTINEL_PASSWORD_FILE=$S/secrets/sentinel_app": HOST,
        "export REDIS_TLS_CA=$S/pki/ca.crt REDIS_TLS_CERT=$S/pki/clients/app-app.crt"
        " REDIS_TLS_KEY=$S/pki/clients/app-app.key": HOST,
        ".venv/bin/python docs/clients/python/app.py 30": HOST,
        ".venv/bin/pytest -m lab tests/lab/test_clients.py": HELP,
    }
)

# What a HOST command may run besides the programs other documented commands run.
STANDARD_TOOLS = {
    "adduser", "apt-get", "cat", "cd", "chmod", "cp", "date", "echo", "export", "firewall-cmd", "git",
    "gpg", "install", "openssl", "python3", "ssh", "tar", "ufw", "umask", ".",
}  # fmt: skip
# Tools of the kit's environment: a page that runs one by its bare name activates it first.
VENV_TOOLS = {
    "ansible", "ansible-doc", "ansible-galaxy", "ansible-inventory", "ansible-lint", "ansible-playbook",
    "ansible-vault", "pip", "pytest", "python", "redisops", "ruff", "yamllint",
}  # fmt: skip
# Subcommand words before the options, for programs other than redisops (whose parser says).
SUBCOMMANDS = {"ansible-galaxy": 2, "ansible-vault": 1, "pip": 1}

COMMANDS = D.commands()
BY_KEY = {c.key: c for c in COMMANDS}


def _of(kind: str) -> list[D.Command]:
    return [BY_KEY[key] for key in sorted(BY_KEY) if CLASSES.get(key) == kind]


def _env() -> dict[str, str]:
    """As after '. .venv/bin/activate': the kit's tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return env


def _sh(text: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", "-c", text],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ---- the parser -------------------------------------------------------------------------------


def test_the_parser_takes_sh_and_console_blocks_only():
    page = "\n".join(
        [
            "```sh",
            "# a comment line",
            "make demo      # a trailing comment",
            "ansible-playbook playbooks/site.yml \\",
            "    --tags config",
            'echo "a # inside quotes"',
            "for x in 1 2; do",
            "  echo $x",
            "done",
            "```",
            "```yaml",
            "key: value",
            "```",
            "```console",
            "$ redisops --version",
            "redisops 0.2.0",
            "```",
            "```",
            "untagged",
            "```",
        ]
    )
    found = D.commands_in(page, "page.md")
    assert [c.key for c in found] == [
        "make demo",
        "ansible-playbook playbooks/site.yml --tags config",
        'echo "a # inside quotes"',
        "for x in 1 2; do echo $x done",
        "redisops --version",
    ]
    assert [c.line for c in found] == [3, 4, 6, 7, 15]
    assert found[3].text == "for x in 1 2; do\n  echo $x\ndone"


def test_programs_of_a_compound_command():
    assert D.programs_of("(umask 077; openssl rand -hex 32 > f)") == (["umask", "openssl"], [])
    assert D.programs_of('for s in a b; do\n  sudo ufw allow "$s"\ndone') == (["ufw"], [])
    assert D.programs_of("f() { sudo firewall-cmd --reload; }; X=1 f") == (["firewall-cmd", "f"], ["f"])
    assert D.programs_of("tar -czf - pki | gpg -o x-$(date +%F).gpg") == (["date", "tar", "gpg"], [])


# ---- the table --------------------------------------------------------------------------------


def test_every_command_is_classified():
    missing = [str(c) for c in COMMANDS if c.key not in CLASSES]
    assert not missing, "classify these in tests/unit/test_doc_commands.py CLASSES:\n" + "\n".join(missing)


def test_the_table_names_only_documented_commands():
    stale = sorted(set(CLASSES) - set(BY_KEY))
    assert not stale, "no longer in the docs: remove from CLASSES:\n" + "\n".join(stale)


def test_the_classes_are_known():
    assert set(CLASSES.values()) <= {RUN, HELP, DRY_RUN, LAB, HOST}


def test_every_page_shows_its_commands_in_tagged_blocks():
    """A fenced block whose lines look like commands but carry no sh/console tag escapes this test."""
    tools = VENV_TOOLS | {"make", ".venv/bin/"}
    for page in D.pages():
        for tag, start, lines in D.blocks(page.read_text()):
            if tag in D.COMMAND_BLOCKS or tag not in ("", "shell", "bash", "text"):
                continue
            firsts = {line.split()[0] for line in lines if line.strip()}
            bare = {w for w in firsts if w in tools or w.startswith(".venv/bin/")}
            assert not bare, f"{page.relative_to(REPO)}:{start}: tag this block sh: {sorted(bare)}"


def test_bare_venv_tools_come_after_the_environment_is_activated():
    """README and docs: a newcomer's shell has no .venv/bin on PATH until the page activates it."""
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        active = False
        for command in D.commands_in(page.read_text(), page.name):
            if re.search(r"(^|[;&|(]\s*|\s)(\.|source) \S*bin/activate\b", command.text):
                active = True
                continue
            bare = set(D.programs_of(command.text)[0]) & VENV_TOOLS
            assert active or not bare, (
                f"{page.name}:{command.line}: write .venv/bin/{sorted(bare)[0]} or activate"
            )


def test_release_file_names_carry_the_current_version():
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    for command in COMMANDS:
        for found in re.findall(r"(?:redis_ops_kit|redisops-kit)-(\d+\.\d+\.\d+)", command.text):
            assert found == version, f"{command}: version {found}, galaxy.yml has {version}"


# ---- RUN --------------------------------------------------------------------------------------


def _argv(command: D.Command) -> list[str]:
    return D.without_redirects(D.words(command.text))[0]


def _tool(word: str) -> str:
    """A program as test_no_warnings.py names it: the venv's tools by their bare names."""
    return Path(word).name if word.startswith(".venv/bin/") else word


# Commands test_no_warnings.py runs already (exit 0 and no warning), with its own arguments.
ALREADY_RUN = {tuple(argv) for argv in W.COMMANDS.values()} | {("python", "tools/role_docs.py", "--check")}


def _already_run(argv: list[str]) -> bool:
    return BIN.resolve() == VENV_BIN.resolve() and (_tool(argv[0]), *argv[1:]) in ALREADY_RUN


@pytest.mark.parametrize("command", _of(RUN), ids=str)
def test_run_commands_exit_0(command):
    if _already_run(_argv(command)):
        return
    proc = _sh(command.text)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


# ---- DRY_RUN ----------------------------------------------------------------------------------


def _dry_run(command: D.Command) -> list[str]:
    argv = D.words(command.text)
    kept, _ = D.without_redirects(argv)
    if kept[0] == "make":
        return ["make", "-n", *kept[1:]]
    if kept != argv and ">" in argv:  # a generator: its output, not written
        return kept
    if kept[1:] == ["tools/role_docs.py"]:
        return [*kept, "--check"]
    pytest.fail(f"{command}: no dry run known for it; classify it otherwise")


@pytest.mark.parametrize("command", _of(DRY_RUN), ids=str)
def test_dry_run_commands_exit_0(command):
    argv = _dry_run(command)
    if _already_run(argv):
        return
    proc = subprocess.run(
        argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


# ---- HELP (and the options of LAB and HOST commands) ------------------------------------------


def _resolve(program: str) -> str:
    if "/" in program:
        path = REPO / program
        assert path.exists(), f"{program} does not exist"
        return str(path)
    found = shutil.which(program, path=_env()["PATH"])
    assert found, f"{program} is not installed here"
    return found


@functools.cache
def _help(argv: tuple[str, ...]) -> str:
    proc = subprocess.run(
        list(argv), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"{argv}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    return proc.stdout + proc.stderr


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _redisops(args: list[str]) -> tuple[list[str], list[str], argparse.ArgumentParser]:
    """(subcommand words, the words after them that are the subcommand's, its parser)."""
    from redisops.cli import build_parser

    parser, path = build_parser(), []
    while args and args[0] in _subparsers(parser):
        parser = _subparsers(parser)[args[0]]
        path.append(args.pop(0))
    remainder = any(a.nargs == argparse.REMAINDER for a in parser._actions)
    if remainder:  # lab ssh HOST COMMAND...: the command's options are the host's
        first = next((i for i, w in enumerate(args) if not w.startswith("-")), len(args))
        args = args[:first]
    return path, args, parser


def _parses(args: list[str]) -> None:
    """redisops's own parser accepts the documented arguments (nothing runs)."""
    from redisops.cli import build_parser

    try:
        build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"redisops {' '.join(args)}: the parser refuses it (exit {exc.code})")


def _check_options(words: list[str]) -> None:
    """The program's help names every option ``words`` use; redisops parses them; a playbook exists."""
    name, args = D.program(words)
    tool = _tool(name)
    path = _resolve(name)
    if tool == "redisops":
        _parses(list(args))
        sub, args, _ = _redisops(list(args))
        help_argv = (path, *sub, "--help")
    elif tool in ("python", "python3"):
        prefix = args[:2] if args[:1] == ["-m"] else args[:1]
        args = args[len(prefix) :]
        help_argv = (path, *prefix, "--help")
    else:
        depth = SUBCOMMANDS.get(tool, 0)
        help_argv = (path, *args[:depth], "--help")
        args = args[depth:]
    text = _help(help_argv)
    for option in D.options(args):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), f"{option} is not in {help_argv}"
    if tool == "ansible-playbook":
        for word in args:
            playbook = re.fullmatch(r"(?:redisops\.kit\.(\w+)|playbooks/(\w+)\.yml)", word)
            if playbook:
                name = f"playbooks/{playbook.group(1) or playbook.group(2)}.yml"
                assert name in W.PLAYBOOKS, f"{word}: no {name} (test_no_warnings.py syntax-checks each one)"


def _inner_redisops(words: list[str]) -> Iterator[list[str]]:
    """redisops run on a host through ssh or 'lab ssh' (python3 -m redisops.cli ...): its words."""
    flat = [part for word in words for part in (D.words(word) if " " in word else [word])]
    for i, word in enumerate(flat):
        if word == "redisops.cli" and i > 0 and flat[i - 1] == "-m":
            yield ["redisops", *flat[i + 1 :]]


@pytest.mark.parametrize("command", _of(HELP) + _of(LAB), ids=str)
def test_help_names_every_option_used(command):
    words, read = D.without_redirects(D.words(command.text))
    for path in read:
        assert (REPO / path).is_file(), f"{command}: reads {path}, which does not exist"
    _check_options(words)
    for inner in _inner_redisops(words):
        _check_options(inner)


# ---- HOST -------------------------------------------------------------------------------------


def _known_programs() -> tuple[set[str], set[str]]:
    """(programs the other classes run, functions any page's commands define)."""
    programs, functions = set(), set()
    for command in COMMANDS:
        ran, defined = D.programs_of(command.text)
        functions |= set(defined)
        if CLASSES.get(command.key) != HOST:
            programs |= {_tool(p) for p in ran}
    return programs, functions


@pytest.mark.parametrize("command", _of(HOST), ids=str)
def test_host_commands_run_known_programs(command):
    programs, functions = _known_programs()
    ran, _ = D.programs_of(command.text)
    assert ran, f"{command}: runs no program"
    unknown = [p for p in ran if _tool(p) not in STANDARD_TOOLS | programs | functions]
    assert not unknown, (
        f"{command}: {unknown} is neither a standard tool nor run by another documented command"
    )
    for inner in _inner_redisops(D.words(command.text)):
        _check_options(inner)


# ---- links ------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_relative_links_resolve():
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, broken


def test_the_benchmarks_page_is_the_benchmarks_own():
    from bench import doc

    page = REPO / "docs" / "benchmarks.md"
    if page.exists():
        assert doc.MARKER in page.read_text(), "docs/benchmarks.md is written by 'make bench' only"
