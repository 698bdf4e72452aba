"""What several jobs share, so that no job reaches into another's folder.

- :mod:`.nald_wait`: the step that waits for tonight's NALD swap (every job reading ``import``);
- :mod:`.per_licence`: which licence a per-licence step is about (nald-import, licence-import);
- :mod:`.london`: the Europe/London day of an instant or of the database's clock (time-limited, licence-updates; the tracker's times);
- :mod:`.notify_email`: Notify for the jobs whose whole work is one email (tracker,
  check-for-updated-invoice-accounts).

Not a job itself. NALD's values and SQL are in :mod:`wrls_actors.nald`.
"""
