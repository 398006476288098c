"""Every subcommand has --help; errors are one clear line, not a traceback."""

from __future__ import annotations

import pytest

from lstm_rnn_correlation import cli


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lstm-rnn-correlation " + command)


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_user_error_is_reported_without_traceback(monkeypatch, capsys):
    import importlib

    from lstm_rnn_correlation.errors import UserError

    def boom(args):
        raise UserError("alerts.log:3: not an alert line")

    module = importlib.import_module(cli.COMMANDS["parse"][0])
    monkeypatch.setattr(module, "run", boom)
    assert cli.main(["parse", "x.log"]) == 2
    err = capsys.readouterr().err
    assert "alerts.log:3: not an alert line" in err
    assert "Traceback" not in err
