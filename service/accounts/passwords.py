"""Passwords nobody may choose: the 20,000 most common ones of leaked lists plus common Vietnamese ones.

As NIST SP 800-63B advises: a minimum length, no composition rules, no periodic change, and a check against
passwords known to attackers. `common-passwords.txt.gz` is Django's list (BSD licence, django/contrib/auth), made
by Royce Williams from leaked passwords (https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce),
lowercased; `common-passwords-vi.txt` adds Vietnamese ones ("matkhau123", "123456aA@", …).
"""
import functools
import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent
LISTS = (HERE / "common-passwords.txt.gz", HERE / "common-passwords-vi.txt")


@functools.cache
def common_passwords():
    words = set()
    for path in LISTS:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            words.update(line.strip().lower() for line in handle if line.strip() and not line.startswith("#"))
    return frozenset(words)


def is_common(password):
    return password.strip().lower() in common_passwords()
