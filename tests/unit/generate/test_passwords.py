"""The admin_passwd hash verifies the way Odoo verifies it (passlib)."""

from __future__ import annotations

import pytest

from odoo_ops.generate.passwords import (
    PBKDF2_ROUNDS,
    ab64_decode,
    ab64_encode,
    is_pbkdf2_sha512_hash,
    master_password,
    pbkdf2_sha512_hash,
    random_secret,
    verify_pbkdf2_sha512,
)

passlib_hash = pytest.importorskip("passlib.hash", reason="passlib is a test extra")
passlib_context = pytest.importorskip("passlib.context")


def test_passlib_verifies_our_hash() -> None:
    hashed = pbkdf2_sha512_hash("correct horse battery staple", rounds=1000)
    assert passlib_hash.pbkdf2_sha512.verify("correct horse battery staple", hashed)
    assert not passlib_hash.pbkdf2_sha512.verify("correct horse battery stapl", hashed)


def test_odoo_crypt_context_accepts_it_without_rehash() -> None:
    # odoo/tools/config.py: CryptContext(['pbkdf2_sha512', 'plaintext'],
    # deprecated=['plaintext'], pbkdf2_sha512__rounds=600_000)
    ctx = passlib_context.CryptContext(
        ["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"], pbkdf2_sha512__rounds=600_000
    )
    hashed = pbkdf2_sha512_hash("Master-Pass-1")
    assert hashed.startswith(f"$pbkdf2-sha512${PBKDF2_ROUNDS}$")
    ok, new_hash = ctx.verify_and_update("Master-Pass-1", hashed)
    assert ok is True
    assert new_hash is None  # same scheme and rounds: Odoo keeps it
    assert ctx.identify(hashed) == "pbkdf2_sha512"


def test_we_verify_passlib_hashes() -> None:
    theirs = passlib_hash.pbkdf2_sha512.using(rounds=2000).hash("s3cret")
    assert verify_pbkdf2_sha512("s3cret", theirs)
    assert not verify_pbkdf2_sha512("s3cret!", theirs)
    assert not verify_pbkdf2_sha512("s3cret", "plain")


def test_format() -> None:
    hashed = pbkdf2_sha512_hash("x", rounds=10, salt=b"\xfb" * 16)
    _, scheme, rounds, salt, checksum = hashed.split("$")
    assert scheme == "pbkdf2-sha512" and rounds == "10"
    assert ab64_decode(salt) == b"\xfb" * 16
    assert len(ab64_decode(checksum)) == 64
    assert "+" not in hashed and "=" not in hashed
    assert is_pbkdf2_sha512_hash(hashed)
    assert not is_pbkdf2_sha512_hash("$pbkdf2-sha256$1$a$b")


def test_ab64_round_trip() -> None:
    for data in (b"", b"\x00", b"\xff\xfe\xfd", bytes(range(64))):
        assert ab64_decode(ab64_encode(data)) == data


def test_salts_differ() -> None:
    assert pbkdf2_sha512_hash("same", rounds=1) != pbkdf2_sha512_hash("same", rounds=1)


def test_random_secrets() -> None:
    secrets = {random_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) >= 40 for s in secrets)
    pw = master_password()
    assert len(pw) == 29 and pw.count("-") == 4
