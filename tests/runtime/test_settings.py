import pytest

from wrls_actors.runtime import ConfigurationError, Settings
from wrls_actors.runtime.settings import VARIABLES, mask_url

KEY = {"WRLS_MESSAGE_KEY": "k" * 32}


def test_neither_url_means_the_embedded_default():
    assert Settings.from_env("WRLS", {}).embedded


def test_one_url_without_the_other_is_refused_naming_the_missing_one():
    with pytest.raises(ConfigurationError, match="WRLS_DATABASE_URL is not set"):
        Settings.from_env("WRLS", {"WRLS_BROKER_URL": "amqp://x"})
    with pytest.raises(ConfigurationError, match="WRLS_BROKER_URL is not set"):
        Settings.from_env("WRLS", {"WRLS_DATABASE_URL": "postgresql://x"})


def test_passwords_never_show_in_repr():
    settings = Settings.from_env(
        "WRLS", {"WRLS_BROKER_URL": "amqp://u:s3cret@h/v", "WRLS_DATABASE_URL": "postgresql://u:s3cret@h/d", **KEY}
    )
    assert "s3cret" not in repr(settings) and KEY["WRLS_MESSAGE_KEY"] not in repr(settings)
    assert mask_url("amqp://u:s3cret@h:5672/v") == "amqp://u:***@h:5672/v"


def test_a_broker_needs_a_message_key_of_32_characters_the_embedded_default_makes_one():
    urls = {"WRLS_BROKER_URL": "amqp://h/v", "WRLS_DATABASE_URL": "postgresql://h/d"}
    with pytest.raises(ConfigurationError, match="WRLS_MESSAGE_KEY is not set"):
        Settings.from_env("WRLS", urls)
    with pytest.raises(ConfigurationError, match="WRLS_MESSAGE_KEY is too short: .* it has 9") as e:
        Settings.from_env("WRLS", {**urls, "WRLS_MESSAGE_KEY": "short-key"})
    assert "short-key" not in str(e.value)
    with pytest.raises(ConfigurationError, match="WRLS_MESSAGE_KEY_PREVIOUS is too short"):
        Settings.from_env("WRLS", {**urls, **KEY, "WRLS_MESSAGE_KEY_PREVIOUS": "old"})
    settings = Settings.from_env("WRLS", {**urls, **KEY})
    assert settings.message_key == KEY["WRLS_MESSAGE_KEY"] and settings.max_message_bytes == 256 * 1024
    embedded = Settings.from_env("WRLS", {}).message_key
    assert len(embedded) >= 32 and embedded != Settings.from_env("WRLS", {}).message_key


def test_numbers_are_checked_and_schedule_overrides_collected():
    with pytest.raises(ConfigurationError, match="WRLS_MAX_DELIVERIES must be a whole number"):
        Settings.from_env("WRLS", {"WRLS_MAX_DELIVERIES": "three"})
    settings = Settings.from_env("WRLS", {"WRLS_SCHEDULE_CHECK_STATUS": "every 30s", "WRLS_STALL_AFTER_S": "9"})
    assert settings.schedule_overrides == {"check-status": "every 30s"}
    assert settings.stall_after_s == 9


def test_the_ledger_s_retention_is_a_week_at_least_and_failures_are_kept_as_long_at_least():
    assert (
        Settings.from_env("WRLS", {}).ledger_retention_days,
        Settings.from_env("WRLS", {}).ledger_failure_retention_days,
    ) == (90, 400)
    with pytest.raises(ConfigurationError, match="WRLS_LEDGER_RETENTION_DAYS must be at least 7"):
        Settings.from_env("WRLS", {"WRLS_LEDGER_RETENTION_DAYS": "6"})
    with pytest.raises(
        ConfigurationError, match="WRLS_LEDGER_FAILURE_RETENTION_DAYS must be at least WRLS_LEDGER_RETENTION_DAYS"
    ):
        Settings.from_env("WRLS", {"WRLS_LEDGER_RETENTION_DAYS": "500"})
    with pytest.raises(ConfigurationError, match="WRLS_LEDGER_FAILURE_RETENTION_DAYS must be a whole number"):
        Settings.from_env("WRLS", {"WRLS_LEDGER_FAILURE_RETENTION_DAYS": "a year"})
    settings = Settings.from_env("WRLS", {"WRLS_LEDGER_RETENTION_DAYS": "7", "WRLS_LEDGER_FAILURE_RETENTION_DAYS": "7"})
    assert (settings.ledger_retention_days, settings.ledger_failure_retention_days) == (7, 7)


@pytest.mark.parametrize("value", ["0", "1001", "-3", "many"])
def test_the_chunk_limit_is_one_to_a_thousand_items(value):
    assert Settings.from_env("WRLS", {}).chunk_limit == 1000
    assert Settings.from_env("WRLS", {"WRLS_CHUNK_LIMIT": "1"}).chunk_limit == 1
    with pytest.raises(ConfigurationError, match="WRLS_CHUNK_LIMIT must be"):
        Settings.from_env("WRLS", {"WRLS_CHUNK_LIMIT": value})


def test_every_variable_read_is_in_the_documented_list():
    import inspect
    import re

    source = inspect.getsource(Settings.from_env)
    read = set(re.findall(r"\{prefix\}_([A-Z_]+)\b", source)) | set(
        re.findall(r'_int\(env, prefix, "([A-Z_]+)"\)', source)
    )
    documented = {v.name for v in VARIABLES}
    assert {"BROKER_URL", "DATABASE_URL", "MAX_DELIVERIES", "LOG_FORMAT"} <= read
    assert read - {"SCHEDULE_"} <= documented


def test_trusted_proxies_and_the_console_user_header_are_checked():
    settings = Settings.from_env(env={"WRLS_API_TRUSTED_PROXIES": " 10.0.0.5, 172.16.0.0/12 "})
    assert settings.api_trusted_proxies == ("10.0.0.5", "172.16.0.0/12")
    assert Settings.from_env(env={}).api_trusted_proxies == ()
    with pytest.raises(ConfigurationError, match="not an IP address or network"):
        Settings.from_env(env={"WRLS_API_TRUSTED_PROXIES": "proxy.internal"})
    assert Settings.from_env(env={"WRLS_CONSOLE_USER_HEADER": "X-Forwarded-User"}).console_user_header == (
        "x-forwarded-user"
    )
    with pytest.raises(ConfigurationError, match="must be a header name"):
        Settings.from_env(env={"WRLS_CONSOLE_USER_HEADER": "X-User: admin"})


def test_the_queue_type_is_classic_or_quorum():
    assert Settings.from_env("WRLS", {}).queue_type == "classic"
    assert Settings.from_env("WRLS", {"WRLS_RABBITMQ_QUEUE_TYPE": "quorum"}).queue_type == "quorum"
    with pytest.raises(ConfigurationError, match="WRLS_RABBITMQ_QUEUE_TYPE must be classic or quorum, got 'stream'"):
        Settings.from_env("WRLS", {"WRLS_RABBITMQ_QUEUE_TYPE": "stream"})


def test_several_broker_urls_are_checked_one_by_one_and_every_password_masked():
    def settings(urls: str) -> Settings:
        return Settings.from_env("WRLS", {"WRLS_BROKER_URL": urls, "WRLS_DATABASE_URL": "postgresql://h/d", **KEY})

    nodes = settings(" amqp://u:pw1@a:5672/v ,, amqps://u:pw2@b/v")
    assert nodes.broker_urls == ("amqp://u:pw1@a:5672/v", "amqps://u:pw2@b/v")
    assert "pw1" not in repr(nodes) and "pw2" not in repr(nodes)
    assert mask_url(nodes.broker_url) == "amqp://u:***@a:5672/v,amqps://u:***@b/v"
    assert settings("amqp://a").broker_urls == ("amqp://a",)
    for urls, refused in (
        (
            "amqp://u:pw1@a/v,http://u:pw2@b/v",
            r"WRLS_BROKER_URL URL 2 of 2 \(http://u:\*\*\*@b/v\) must start with amqp",
        ),
        ("amqp://u:pw1@:5672/v", r"URL 1 of 1 \(amqp://u:\*\*\*@:5672/v\) names no host"),
        (
            "amqp://a/v,amqp://u:pw2@b:port/v",
            r"URL 2 of 2 \(amqp://u:\*\*\*@b:port/v\) is not a URL \(its port must be a number\)",
        ),
        ("amqp://a/v,amqp://b/w", "different virtual hosts"),
        (" , ", "holds no URL"),
        # Unencoded '/', '#' or ',' in a password end urlsplit's netloc early: still masked.
        ("amqp://u:pw1/x@a:5672/v", r"URL 1 of 1 \(amqp://u:\*\*\*@a:5672/v\) is not a URL"),
        ("amqp://u:pw1#x@a:5672/v", r"URL 1 of 1 \(amqp://u:\*\*\*@a:5672/v\)"),
        ("amqp://u:pw1,pw2@a:5672/v", r"URL 1 of 2 \(amqp://\*\*\*\) is not a URL"),
    ):
        with pytest.raises(ConfigurationError, match=refused) as e:
            settings(urls)
        assert "pw1" not in str(e.value) and "pw2" not in str(e.value)
