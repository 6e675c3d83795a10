"""The simulated device's digest check: the right proof passes once per nc, nothing else does."""

from __future__ import annotations

from hearth.demo.shelly.auth import WS_HA2, DigestGuard, make_ha1, sha256_hex


def _proof(guard: DigestGuard, nonce: str, nc: int, password: str) -> dict[str, object]:
    ha1 = make_ha1(guard.realm, password)
    response = sha256_hex(f"{ha1}:{nonce}:{nc}:abc:auth:{WS_HA2}")
    return {"realm": guard.realm, "username": "admin", "nonce": nonce, "nc": nc,
            "cnonce": "abc", "response": response, "algorithm": "SHA-256"}  # fmt: skip


def test_each_nc_counts_once_and_a_replay_is_refused() -> None:
    guard = DigestGuard(
        realm="shellyplus1pm-aabbccddeeff", ha1=make_ha1("shellyplus1pm-aabbccddeeff", "pw")
    )
    nonce = guard.new_nonce()
    assert guard.check(_proof(guard, nonce, 1, "pw"), WS_HA2)
    assert not guard.check(_proof(guard, nonce, 1, "pw"), WS_HA2)
    assert guard.check(_proof(guard, nonce, 2, "pw"), WS_HA2)


def test_wrong_password_and_unknown_nonce_are_refused() -> None:
    guard = DigestGuard(realm="r", ha1=make_ha1("r", "pw"))
    nonce = guard.new_nonce()
    assert not guard.check(_proof(guard, nonce, 1, "nope"), WS_HA2)
    assert not guard.check(_proof(guard, "123", 1, "pw"), WS_HA2)
