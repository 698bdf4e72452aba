"""docs/configuration.md is generated from the settings tables and kept in step with them."""

from wrls_actors.config import VARIABLES as JOB_VARIABLES
from wrls_actors.runtime.settings import VARIABLES as RUNTIME_VARIABLES
from wrls_actors.tools import config_docs


def test_the_page_is_what_the_tables_give():
    # Stale: run `python -m wrls_actors.tools.config_docs` and commit the page.
    assert config_docs.PAGE.read_text() == config_docs.render()
    assert config_docs.main(["--check"]) == 0


def test_every_variable_is_on_the_page_with_its_default():
    page = config_docs.PAGE.read_text()
    for v in (*RUNTIME_VARIABLES, *JOB_VARIABLES):
        assert f"| `WRLS_{v.name}` | {f'`{v.default}`' if v.default else '—'} |" in page, v.name


def test_check_fails_on_a_stale_page_and_writing_mends_it(tmp_path, monkeypatch, capsys):
    page = tmp_path / "configuration.md"
    page.write_text(config_docs.render().replace("WRLS_NALD_MAX_RATIO", "WRLS_NALD_MAX_RATE"))
    monkeypatch.setattr(config_docs, "PAGE", page)
    assert config_docs.main(["--check"]) == 1
    assert "is stale" in capsys.readouterr().err
    assert config_docs.main([]) == 0
    assert config_docs.main(["--check"]) == 0
