"""The jobs' configuration: every variable read is documented, numbers are checked, the password is hidden."""

import inspect
import re

import pytest

from wrls_actors.config import VARIABLES, Config
from wrls_actors.runtime import ConfigurationError


def test_every_variable_read_is_in_the_documented_list():
    source = inspect.getsource(Config.from_env)
    read = set(re.findall(r'(?:get|required|number|percent)\("([A-Z_0-9]+)"\)', source))
    assert {"NALD_BUCKET", "NALD_ZIP_PASSWORD", "NALD_MAX_MEMBER_BYTES"} <= read
    assert read == {v.name for v in VARIABLES}


def test_defaults_and_the_nald_key():
    config = Config.from_env({})
    assert config.nald_key == "wal_nald_data_release/nald_enc.zip"
    assert config.nald_bucket is None and config.nald_local_dir is None
    assert Config.from_env({"WRLS_NALD_PREFIX": "/a/b/"}).nald_key == "a/b/nald_enc.zip"


def test_a_required_setting_set_empty_is_refused_with_its_name():
    # Empty is not "take the default": it would reach a Notify request or a report as None.
    with pytest.raises(ConfigurationError, match="WRLS_ENVIRONMENT must not be empty"):
        Config.from_env({"WRLS_ENVIRONMENT": ""})
    assert Config.from_env({}).environment == "local"


def test_a_bad_number_is_refused_with_its_name():
    with pytest.raises(ConfigurationError, match="WRLS_NALD_MAX_MEMBER_BYTES must be a whole number"):
        Config.from_env({"WRLS_NALD_MAX_MEMBER_BYTES": "lots"})


def test_the_password_never_shows_in_repr():
    config = Config.from_env({"WRLS_NALD_ZIP_PASSWORD": "s3cret-pw"})
    assert config.nald_zip_password == "s3cret-pw"
    assert "s3cret-pw" not in repr(config)


def test_the_nald_limits_default_to_what_a_real_extract_needs():
    # A production table is a few hundred MB and deflated CSV 5 to 15 times smaller; zeros are 1,000 times.
    config = Config.from_env({})
    assert config.nald_max_member_bytes == 4 * 2**30 and config.nald_max_ratio == 100
    assert Config.from_env({"WRLS_NALD_MAX_RATIO": "40"}).nald_max_ratio == 40
    with pytest.raises(ConfigurationError, match="WRLS_NALD_MAX_RATIO must be a whole number"):
        Config.from_env({"WRLS_NALD_MAX_RATIO": "high"})


def test_the_guards_default_to_ten_and_five_percent_and_refuse_what_is_not_a_percentage():
    config = Config.from_env({})
    assert (config.nald_max_shrink_percent, config.max_delete_percent) == (10, 5)
    assert Config.from_env({"WRLS_MAX_DELETE_PERCENT": "2.5"}).max_delete_percent == 2.5
    with pytest.raises(ConfigurationError, match="WRLS_NALD_MAX_SHRINK_PERCENT must be between 0 and 100"):
        Config.from_env({"WRLS_NALD_MAX_SHRINK_PERCENT": "150"})
    with pytest.raises(ConfigurationError, match="WRLS_MAX_DELETE_PERCENT must be a number of percent"):
        Config.from_env({"WRLS_MAX_DELETE_PERCENT": "some"})


def test_the_clean_batch_is_a_thousand_rows_and_never_zero():
    assert Config.from_env({}).clean_batch_rows == 1000
    assert Config.from_env({"WRLS_CLEAN_BATCH_ROWS": "50"}).clean_batch_rows == 50
    for bad in ("0", "100001"):
        with pytest.raises(ConfigurationError, match="WRLS_CLEAN_BATCH_ROWS must be between 1 and 100000"):
            Config.from_env({"WRLS_CLEAN_BATCH_ROWS": bad})
