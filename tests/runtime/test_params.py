"""Declared job parameters: the check every start goes through, and the CLI's reading of text."""

import pytest

from wrls_actors.runtime import BadMessage, ConfigurationError, Job, Param, Schedule, Service, Settings, Step
from wrls_actors.runtime.params import check_params, params_from_text

DECLARED = (
    Param("force", bool, default=False),
    Param("licence", str, required=True, max_length=20),
    Param("n", int, default=5),
    Param("seconds", float),
    Param("fail", int, many=True, max_items=3),
    Param("code", str, pattern=r"[A-Z]{3}"),
)


def refusal(given) -> str:
    with pytest.raises(BadMessage) as caught:
        check_params("demo", DECLARED, given)
    return str(caught.value)


def test_good_values_pass_and_defaults_are_added():
    assert check_params("demo", DECLARED, {"licence": "03/28/61/0032", "seconds": 2, "fail": [1, 2]}) == {
        "force": False,
        "licence": "03/28/61/0032",
        "n": 5,
        "seconds": 2,
        "fail": [1, 2],
    }
    assert check_params("demo", DECLARED, {"licence": "x", "seconds": 0.5, "code": "ABC", "force": True}) == {
        "force": True,
        "licence": "x",
        "n": 5,
        "seconds": 0.5,
        "code": "ABC",
    }


def test_a_job_that_declares_nothing_takes_nothing():
    assert check_params("check-status", (), None) == {} and check_params("check-status", (), {}) == {}
    message = str(pytest.raises(BadMessage, check_params, "check-status", (), {"colour": "blue"}).value)
    assert message == "job check-status: unknown parameter colour (its parameters: none)"


@pytest.mark.parametrize(
    "given, problem",
    [
        ({"licence": "x", "force": "yes"}, 'parameter force must be a boolean, got "yes"'),
        ({"licence": "x", "n": True}, "parameter n must be an integer, got true"),
        ({"licence": "x", "n": 1.5}, "parameter n must be an integer, got 1.5"),
        ({"licence": "x", "seconds": "3"}, 'parameter seconds must be a number, got "3"'),
        ({"licence": 3}, "parameter licence must be a string, got 3"),
        ({"licence": "x" * 21}, "parameter licence is at most 20 characters, got 21"),
        ({"licence": "x", "code": "abc"}, 'parameter code must match [A-Z]{3}, got "abc"'),
        ({"licence": "x", "fail": 1}, "parameter fail must be a list of integers, got 1"),
        ({"licence": "x", "fail": [1, "2"]}, 'parameter fail item 1 must be an integer, got "2"'),
        ({"licence": "x", "fail": [1, 2, 3, 4]}, "parameter fail has at most 3 items, got 4"),
        ({}, "missing parameter licence (string)"),
        ({"licence": "x", "colour": "blue"}, "unknown parameter colour"),
        ({"licence": "a\x00b"}, 'parameter licence must not contain NUL characters, got "a\\u0000b"'),
    ],
)
def test_each_bad_parameter_is_named(given, problem):
    assert problem in refusal(given)


def test_each_problem_is_also_given_by_field():
    with pytest.raises(BadMessage) as caught:
        check_params("demo", DECLARED, {"n": "five", "colour": 1})
    assert caught.value.fields == (
        ("licence", "missing parameter licence (string)"),
        ("n", 'parameter n must be an integer, got "five"'),
        ("colour", "unknown parameter colour"),
    )


def test_every_problem_is_named_at_once_with_what_the_job_takes():
    message = refusal({"colour": 1, "n": "five"})
    assert message.startswith(
        "job demo: missing parameter licence (string); "
        'parameter n must be an integer, got "five"; unknown parameter colour'
    )
    assert message.endswith(
        "(its parameters: force (boolean), licence (string), n (integer), seconds (number), "
        "fail (list of integers), code (string))"
    )


def test_a_huge_value_or_name_or_flood_of_names_is_shown_as_a_short_excerpt():
    huge = "x" * 5_000_000
    message = refusal({"licence": huge, huge: 1, **{f"p{i}": i for i in range(1000)}})
    assert len(message) < 1000
    assert (
        'is at most 20 characters, got 5000000: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (5000002 chars)' in message
    )
    assert "and 992 more" in message


def test_a_non_object_is_refused():
    assert "parameters must be a JSON object, got [1]" in str(
        pytest.raises(BadMessage, check_params, "demo", DECLARED, [1]).value
    )


def test_text_is_read_as_the_declared_type():
    assert params_from_text(
        "demo", DECLARED, ["force=yes", "licence=03/28/61/0032", "n=7", "seconds=1.5", "fail=1,2", "code=ABC"]
    ) == {"force": True, "licence": "03/28/61/0032", "n": 7, "seconds": 1.5, "fail": [1, 2], "code": "ABC"}
    # Text that looks like JSON stays text for a string parameter; a list may be a JSON array.
    assert params_from_text("demo", DECLARED, ["licence=123", "fail=[3]", "force=false"]) == {
        "force": False,
        "licence": "123",
        "n": 5,
        "fail": [3],
    }


@pytest.mark.parametrize(
    "pairs, problem",
    [
        (["licence=x", "force=maybe"], 'parameter force must be a boolean, got "maybe"'),
        (["licence=x", "n=five"], 'parameter n must be an integer, got "five"'),
        (["licence=x", "n=" + "9" * 5000], "parameter n must be an integer"),
        (["licence=x", "seconds=nan"], 'parameter seconds must be a number, got "nan"'),
        (["licence=x", "fail=1,a"], 'parameter fail must be a list of integers, got "1,a"'),
        (["licence=x", "fail=[1,"], "parameter fail must be a list of integers"),
        (["licence=x", "colour=blue"], "unknown parameter colour"),
        (["licence=x", "oops"], '--param takes key=value, got "oops"'),
        (["licence=x", "licence=y"], "parameter licence given twice"),
        (["n=1"], "missing parameter licence"),
    ],
)
def test_bad_text_is_refused_naming_the_parameter(pairs, problem):
    with pytest.raises(BadMessage) as caught:
        params_from_text("demo", DECLARED, pairs)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "declare, problem",
    [
        (lambda: Param("Bad-Name"), "names are lower case"),
        (lambda: Param("x", list), "type must be one of"),
        (lambda: Param("x", str, required=True, default="a"), "a required parameter has no default"),
        (lambda: Param("x", int, pattern="[0-9]"), "only a string has a pattern"),
        (lambda: Param("x", int, default="1"), "default '1' is not an integer"),
        (lambda: Job("j", (Step("s", print),), params=(Param("x"), Param("x"))), "parameters declared twice: x"),
    ],
)
def test_bad_declarations_are_configuration_errors(declare, problem):
    with pytest.raises(ConfigurationError, match=problem):
        declare()


def test_a_schedule_of_a_job_with_a_required_parameter_is_refused():
    # Its ticks start with no parameters: every one of them would be refused.
    job = Job("one", (Step("s", print),), params=(Param("licence", required=True),))
    with pytest.raises(ConfigurationError, match="schedule one: its job requires licence"):
        Service(Settings.from_env("WRLS", {}), [job], [Schedule("one", cron="0 1 * * *")])
    assert Service(Settings.from_env("WRLS", {}), [job], []).jobs["one"] is job
