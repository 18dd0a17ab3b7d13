"""GB 11643-1999 citizen identity numbers: 6-digit address code, birth date, 3-digit sequence
(odd for men, even for women) and an ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import numpy as np

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = "10X98765432"


def check_char(body17: str) -> str:
    """Check character for the first 17 digits."""
    s = sum(int(c) * int(w) for c, w in zip(body17, WEIGHTS, strict=True))
    return CHECK_CHARS[s % 11]


def is_valid(id_no: str) -> bool:
    return len(id_no) == 18 and id_no[:17].isdigit() and check_char(id_no[:17]) == id_no[17].upper()


def make_ids(
    prefix6: np.ndarray, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Vectorised: address prefix (int), birth dates (datetime64[D]) and sex -> '<U18' ids.

    The sequence is random 1..999 with the sex parity, so two people born the same day in the same
    county rarely collide; collisions are harmless here (resident_id is the key, not the id).
    """
    n = len(prefix6)
    seq = rng.integers(0, 499, n) * 2 + np.where(male, 1, 2)  # 1..999, odd = male
    ymd = birth.astype("datetime64[D]")
    y = ymd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = ymd.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (ymd - ymd.astype("datetime64[M]")).astype(np.int64) + 1
    body = prefix6.astype(np.int64) * 10**11 + (y * 10000 + m * 100 + d) * 1000 + seq
    # digits of the 17-digit body, most significant first
    digits = np.empty((n, 17), dtype=np.int64)
    rest = body.copy()
    for k in range(16, -1, -1):
        digits[:, k] = rest % 10
        rest //= 10
    check = (digits * WEIGHTS).sum(axis=1) % 11
    chars = np.array(list(CHECK_CHARS))[check]
    return np.char.add(body.astype("U17"), chars)


def wrong_check(id_no: str) -> str:
    """The same number with a different (wrong) check character."""
    good = id_no[17]
    for c in "0123456789X":
        if c != good:
            return id_no[:17] + c
    raise AssertionError("unreachable")
