"""The CLI's contract: exit codes and clear errors before anything is done."""

import json

import pytest

from redisops import cli


def test_unknown_image_is_refused_with_the_choices(capsys):
    assert cli.main(["lab", "up", "--image", "jessie"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown lab image 'jessie'" in err
    assert "bookworm" in err


def test_bad_subnet_is_refused(capsys):
    assert cli.main(["lab", "up", "--subnet", "8.8.8.0/24"]) == cli.EXIT_USAGE
    assert "not a private range" in capsys.readouterr().err


def test_rebuild_refuses_a_host_the_lab_does_not_have(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("REDISOPS_LAB_DIR", str(tmp_path))
    # No lab to rebuild: the machine's state, not the command line, is wrong.
    assert cli.main(["lab", "rebuild", "redis-9"]) == cli.EXIT_ERROR
    assert "no lab is up" in capsys.readouterr().err
    state = {
        "subnet": "10.213.7.0/24",
        "image": "bookworm",
        "hosts": [{"name": "redis-1", "address": "10.213.7.11"}],
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert cli.main(["lab", "rebuild", "redis-9"]) == cli.EXIT_USAGE
    assert "no lab host named redis-9: the lab has backup-1, redis-1" in capsys.readouterr().err


def test_non_root_is_refused(capsys, monkeypatch):
    from redisops.lab import lab as L

    monkeypatch.setattr(L.os, "geteuid", lambda: 1000)
    assert cli.main(["lab", "up"]) == cli.EXIT_ERROR
    assert "needs root" in capsys.readouterr().err


def test_missing_tools_name_their_debian_package(monkeypatch, tmp_path):
    from redisops.lab import lab as L

    monkeypatch.setattr(L.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        L.shutil, "which", lambda tool: None if tool in ("systemd-nspawn", "debootstrap") else "/x"
    )
    lab = L.Lab(L.P.LabPaths(tmp_path), tmp_path)
    with pytest.raises(L.P.LabError) as info:
        lab.preflight()
    message = str(info.value)
    assert "systemd-nspawn" in message
    assert "apt-get install debootstrap systemd-container" in message


def test_usage_errors_exit_64_not_2_which_means_could_not_check(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["lab", "frobnicate"])
    assert info.value.code == cli.EXIT_USAGE == 64
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_drills_take_a_confirmation_naming_the_group_not_a_blanket_yes(capsys):
    for argv in (["drill", "failover", "--scenario", "kill-primary"], ["drill", "backup"]):
        args = cli.build_parser().parse_args([*argv, "--confirm", "redis-main"])
        assert args.confirm == "redis-main" and not args.yes
        assert cli.build_parser().parse_args(argv).confirm is None
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args([*argv, "--help"])
        usage = capsys.readouterr().out
        assert "--confirm GROUP" in usage and "--yes" not in usage
