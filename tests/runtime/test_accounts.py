"""Operators' accounts (runtime/accounts.py) in a real ledger, and `wrls-actors user`."""

import subprocess
import sys

import pytest

from tests.support.helpers import query
from tests.support.processes import ROOT, SAMPLE_APP
from wrls_actors.runtime import accounts
from wrls_actors.runtime.accounts import AccountError

PASSWORD = "correct horse battery staple"


def test_an_account_is_kept_as_an_argon2id_hash_and_only_its_password_lets_it_in(service):
    accounts.add(service.engine, "jo.ops@example.gov.uk", "operator", PASSWORD)

    [row] = query(service, "SELECT * FROM jobs.users")
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    user = accounts.verify(service.engine, "jo.ops@example.gov.uk", PASSWORD)
    assert (user.name, user.role) == ("jo.ops@example.gov.uk", "operator")
    assert accounts.verify(service.engine, "jo.ops@example.gov.uk", PASSWORD + "!") is None
    assert accounts.verify(service.engine, "nobody", PASSWORD) is None
    assert accounts.verify(service.engine, "Not A Name", PASSWORD) is None


def test_set_changes_role_and_password_and_remove_removes(service):
    accounts.add(service.engine, "sam", "viewer", PASSWORD)
    accounts.set_(service.engine, "sam", "operator", "another long password")
    assert accounts.verify(service.engine, "sam", PASSWORD) is None
    assert accounts.verify(service.engine, "sam", "another long password").role == "operator"
    assert [u.name for u in accounts.users(service.engine)] == ["sam"]
    accounts.remove(service.engine, "sam")
    assert accounts.users(service.engine) == []


@pytest.mark.parametrize(
    "name, role, password, problem",
    [
        ("Sam", "viewer", PASSWORD, "a user name is"),
        ("sam", "admin", PASSWORD, "the role is viewer or operator"),
        ("sam", "viewer", "short", "a password has 12 to"),
    ],
)
def test_bad_names_roles_and_passwords_are_refused(service, name, role, password, problem):
    with pytest.raises(AccountError, match=problem):
        accounts.add(service.engine, name, role, password)
    assert accounts.users(service.engine) == []


def test_an_existing_name_or_a_missing_one_is_refused(service):
    accounts.add(service.engine, "sam", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add(service.engine, "sam", "operator", PASSWORD)
    with pytest.raises(AccountError, match="no user"):
        accounts.set_(service.engine, "kim", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="no user"):
        accounts.remove(service.engine, "kim")


def test_the_cli_reads_the_password_from_stdin_and_never_prints_it(service, env):
    def cli(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "wrls_actors", "--app", SAMPLE_APP, "user", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = cli("add", "kim", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "user kim added: operator"
    assert accounts.verify(service.engine, "kim", PASSWORD).role == "operator"
    listed = cli("list")
    assert listed.stdout.split()[:2] == ["kim", "operator"]
    refused = cli("add", "kim", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert refused.returncode == 2 and "exists already" in refused.stderr
    short = cli("add", "lee", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "12 to" in short.stderr
    no_terminal = cli("add", "lee", "--role", "viewer")
    assert no_terminal.returncode == 2 and "--password-stdin" in no_terminal.stderr
    for result in (added, listed, refused, short):
        assert PASSWORD not in result.stdout + result.stderr
    assert cli("remove", "kim").returncode == 0
