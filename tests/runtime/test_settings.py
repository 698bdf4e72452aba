import pytest

from wrls_actors.runtime import ConfigurationError, Settings
from wrls_actors.runtime.settings import VARIABLES, mask_url


def test_neither_url_means_the_embedded_default():
    assert Settings.from_env("WRLS", {}).embedded


def test_one_url_without_the_other_is_refused_naming_the_missing_one():
    with pytest.raises(ConfigurationError, match="WRLS_DATABASE_URL is not set"):
        Settings.from_env("WRLS", {"WRLS_BROKER_URL": "amqp://x"})
    with pytest.raises(ConfigurationError, match="WRLS_BROKER_URL is not set"):
        Settings.from_env("WRLS", {"WRLS_DATABASE_URL": "postgresql://x"})


def test_passwords_never_show_in_repr():
    settings = Settings.from_env("WRLS", {"WRLS_BROKER_URL": "amqp://u:s3cret@h/v",
                                          "WRLS_DATABASE_URL": "postgresql://u:s3cret@h/d"})
    assert "s3cret" not in repr(settings)
    assert mask_url("amqp://u:s3cret@h:5672/v") == "amqp://u:***@h:5672/v"


def test_numbers_are_checked_and_schedule_overrides_collected():
    with pytest.raises(ConfigurationError, match="WRLS_MAX_DELIVERIES must be a whole number"):
        Settings.from_env("WRLS", {"WRLS_MAX_DELIVERIES": "three"})
    settings = Settings.from_env("WRLS", {"WRLS_SCHEDULE_CHECK_STATUS": "every 30s", "WRLS_STALL_AFTER_S": "9"})
    assert settings.schedule_overrides == {"check-status": "every 30s"}
    assert settings.stall_after_s == 9


def test_every_variable_read_is_in_the_documented_list():
    import inspect
    import re

    source = inspect.getsource(Settings.from_env)
    read = set(re.findall(r'\{prefix\}_([A-Z_]+)\b', source)) | set(re.findall(r'_int\(env, prefix, "([A-Z_]+)"\)', source))
    documented = {v.name for v in VARIABLES}
    assert {"BROKER_URL", "DATABASE_URL", "MAX_DELIVERIES", "LOG_FORMAT"} <= read
    assert read - {"SCHEDULE_"} <= documented
