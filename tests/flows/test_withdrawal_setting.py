"""What a recheck does with a withdrawn file is a setting of the home: quarantine by default, or a takedown list;
a value it does not know is one line naming the file and the value, never a silent default."""
import json

from click.testing import CliRunner

from flows.cli import cli
from pipeline.settings import Settings


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_the_home_quarantines_by_default_and_keeps_a_takedown_list_when_set(tmp_path):
    home = tmp_path / "home"
    assert Settings.build(home=home).withdrawal == "quarantine"
    assert _cli("withdrawal", "show", "--home", str(home)).output.strip() == \
        f"withdrawn files: quarantine ({home / 'quarantine' / 'withdrawn'})"
    done = _cli("withdrawal", "set", "takedown-list", "--home", str(home))
    assert done.exit_code == 0, done.output
    assert json.loads((home / "config.json").read_text())["withdrawal"] == "takedown-list"
    assert Settings.build(home=home).withdrawal == "takedown-list"
    assert _cli("withdrawal", "show", "--home", str(home)).output.strip() == \
        f"withdrawn files: takedown-list ({home / 'takedown.json'})"


def test_an_unknown_mode_is_refused_on_the_command_line_and_in_the_config_file(tmp_path):
    home = tmp_path / "home"
    refused = _cli("withdrawal", "set", "delete", "--home", str(home))
    assert refused.exit_code == 2 and "expected one of quarantine, takedown-list, got 'delete'" in refused.output
    assert not (home / "config.json").exists()
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"withdrawal": "shred"}))
    garbled = _cli("recheck", "--home", str(home))
    assert garbled.exit_code == 2 and "Traceback" not in garbled.output, garbled.output
    assert f"{home / 'config.json'}: withdrawal must be one of quarantine, takedown-list, got 'shred'" in garbled.output


def test_recheck_of_a_missing_home_is_one_line_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo"
    result = _cli("recheck", "--home", str(missing))
    assert result.exit_code == 2 and f"no Tessera home at {missing}" in result.output, result.output
    assert not missing.exists()
    bad_date = _cli("recheck", "--as-of", "2027-02-30", "--home", str(tmp_path))
    assert bad_date.exit_code == 2 and "'--as-of'" in bad_date.output and "Traceback" not in bad_date.output
