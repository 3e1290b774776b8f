"""The rules of the report forms as data: the suite files' reader, the derived columns and the pure-Python evaluator.
No database and no Great Expectations here: validation (the scheduled runs) and submissions (the instant check at
entry) both build on this."""
