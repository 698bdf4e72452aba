"""The message helpers every ledger middleware shares."""

import uuid

import dramatiq

from wrls_actors.runtime.lifecycle import valid_run_id


def message(run_id):
    return dramatiq.Message(queue_name="q", actor_name="a", args=(), kwargs={"run_id": run_id}, options={})


def test_a_run_id_is_read_in_its_canonical_form_and_anything_else_is_none():
    run_id = uuid.uuid4()
    # Asked twice each: the second answer comes from the cache and must be the same.
    for _ in range(2):
        assert valid_run_id(message(str(run_id).upper())) == str(run_id)
        assert valid_run_id(message(run_id.hex)) == str(run_id)
        assert valid_run_id(message("not-a-uuid")) is None
        assert valid_run_id(message(12)) is None
        assert valid_run_id(message(None)) is None
        assert valid_run_id(message("")) is None
        assert valid_run_id(message(f"urn:uuid:{run_id}")) == str(run_id)
        # Valid for uuid.UUID (it drops every hyphen), but no id the service writes: refused, not cached.
        assert valid_run_id(message("-".join(run_id.hex))) is None
