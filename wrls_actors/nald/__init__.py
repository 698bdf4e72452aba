"""NALD as the jobs read it: one rule for each kind of value, and the SQL that reads the extract.

Every job that reads schema ``import`` goes through here, so a NALD field
means the same to all of them:

- :mod:`.values`: NALD's NULL, dates, whole numbers and decimals, in Python;
- :mod:`.sql`: the same rules as SQL expressions, identifier quoting and the
  shared queries (a licence by number, the tables a schema lacks);
- :mod:`.lookups`: a column's distinct values mapped by a rule, passed to
  set-based SQL as lookup tables;
- :mod:`.rows`: a stable order for NALD rows, whose every column is text.

It knows nothing of the jobs themselves (it never imports ``wrls_actors.jobs``).
"""
