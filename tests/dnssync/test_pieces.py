"""The pure pieces, as data: what an event claims, what a claim writes, the TSIG key as operators
have it, the state file's atomic replacement. (The wiring is proven against BIND 9 elsewhere.)"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import dns.name
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.dnssync.bind import tsig_keygen
from watcher.dnssync import (
    Applied,
    AppliedSequences,
    MalformedEvent,
    RecordSpec,
    RoutingClaim,
    TsigKey,
    TsigKeyError,
    UnknownRegion,
    changes_for,
    parse_tsig_material,
    read_event,
)
from watcher.dnssync.checks import dns_server
from watcher.events import RESYNC, SWITCHED


def _event(data: object, event_type: str = SWITCHED) -> dict[str, object]:
    return {"type": event_type, "data": data}


def test_a_resync_claims_every_strategy_with_a_region_and_ignores_other_fields() -> None:
    reading = read_event(
        _event(
            {
                "strategies": [
                    {"id": "a", "activeRegion": "r1", "sequence": 3, "state": "X", "extra": [1]},
                    {"id": "b", "activeRegion": None, "sequence": 4},
                    {"id": "c", "activeRegion": "r2", "sequence": 0},
                ],
                "regions": [],
            },
            RESYNC,
        )
    )
    assert reading.resync
    assert reading.claims == (RoutingClaim("a", "r1", 3), RoutingClaim("c", "r2", 0))
    assert reading.ignored == (("b", "no_active_region"),)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("a string", "data: not a JSON object"),
        ({"strategies": {}}, "data.strategies: not a list"),
        ({"strategies": [3]}, "data.strategies[0]: not a JSON object"),
        ({"strategies": [{"id": "a", "activeRegion": "r"}]}, "data.strategies[0].sequence: missing"),
        (
            {"strategies": [{"id": "a", "activeRegion": "r", "sequence": 1}] * 2},
            "data.strategies[1].id: strategy 'a' listed twice",
        ),
        (
            {"strategies": [{"id": "a", "activeRegion": "r", "sequence": -1}]},
            "data.strategies[0].sequence: negative",
        ),
    ],
)
def test_a_malformed_resync_names_the_field(data: object, problem: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        read_event(_event(data, RESYNC))
    assert str(caught.value) == problem


@given(st.integers(min_value=0), st.text(min_size=1), st.text(min_size=1))
def test_any_well_formed_claim_reads_back(sequence: int, strategy: str, region: str) -> None:
    data = {"strategy": strategy, "activeRegion": region, "sequence": sequence}
    assert read_event(_event(data)).claims == (RoutingClaim(strategy, region, sequence),)


@given(st.one_of(st.floats(), st.booleans(), st.text(), st.none(), st.lists(st.integers())))
def test_anything_but_an_int_is_not_a_sequence(sequence: object) -> None:
    with pytest.raises(MalformedEvent, match=r"^data\.sequence: not an integer$"):
        read_event(_event({"strategy": "s", "activeRegion": "r", "sequence": sequence}))


def test_a_claim_writes_every_record_of_its_strategy_and_nothing_else() -> None:
    name = dns.name.from_text
    records = [
        RecordSpec(
            name("a.example.com."), "A", "s1", {"r1": ("192.0.2.1",), "r2": ("192.0.2.2", "192.0.2.3")}
        ),
        RecordSpec(
            name("c.example.com."), "CNAME", "s1", {"r1": ("x.example.net.",), "r2": ("y.example.net.",)}
        ),
        RecordSpec(name("b.example.com."), "A", "s2", {"r1": ("192.0.2.9",)}),
    ]
    assert [c.describe() for c in changes_for(records, "s1", "r2")] == [
        "a.example.com. A 192.0.2.2 192.0.2.3",
        "c.example.com. CNAME y.example.net.",
    ]
    with pytest.raises(UnknownRegion, match="'r3'"):
        changes_for(records, "s1", "r3")


def test_the_tsig_keygen_block_and_raw_base64_are_both_accepted() -> None:
    block = tsig_keygen("failover-watcher.", "hmac-sha512")
    material = parse_tsig_material(block)
    assert (material.name, material.algorithm) == ("failover-watcher.", "hmac-sha512")
    raw = parse_tsig_material(material.secret_b64 + "\n")
    assert raw.secret_b64 == material.secret_b64
    assert raw.name is None
    # Comments are allowed around the block (an operator's note).
    assert parse_tsig_material("# rotated 2025-01\n" + block).name == "failover-watcher."


@example(b"sec\xff\xff")  # "c2Vj//8=": a "//" in the middle of the secret
@example(b"\xff" * 60)  # "////...": wrapped, a line starts with "//"
@given(st.binary(min_size=1, max_size=96))
def test_any_secret_reads_back_whole_raw_wrapped_or_in_a_block(secret: bytes) -> None:
    # Base64 may hold "//", named.conf's comment marker: a secret file must never be cut there.
    b64 = base64.b64encode(secret).decode()
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))  # as `base64` prints it
    block = f'key "k." {{\n\talgorithm hmac-sha256;\n\tsecret "{b64}"; // rotated\n}};\n'
    for text in (b64, b64 + "\n", wrapped + "\n", "# rotated 2025-01\n" + b64 + "\n", block):
        material = parse_tsig_material(text)
        key = TsigKey.from_text("k.", "hmac-sha256", material.secret_b64)
        assert key.dnspython_key().secret == secret, text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("!!!!", "not base64"),
        ('key "k." { algorithm hmac-sha256; };', "exactly one"),
        ('key "k." { algorithm hmac-sha256; secret "!!"; };', "not base64"),
        ("key k. {", "looks like a key block"),
    ],
)
def test_unusable_tsig_material_says_why_without_quoting_it(text: str, problem: str) -> None:
    with pytest.raises(TsigKeyError, match=problem) as caught:
        parse_tsig_material(text)
    assert "!!" not in str(caught.value)


def test_the_key_never_shows_its_secret() -> None:
    secret = base64.b64encode(os.urandom(32)).decode()
    key = TsigKey.from_text("failover-watcher.", "hmac-sha256", secret)
    assert secret not in repr(key)
    assert secret not in str(key)
    assert key.dnspython_key().secret == base64.b64decode(secret)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("ns1.example.com", None),
        ("127.0.0.1:0", None),
        ("127.0.0.1:99999", None),
    ],
)
def test_dns_server_addresses(text: str, parsed: tuple[str, int] | None) -> None:
    assert dns_server(text) == parsed


def test_the_state_file_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = AppliedSequences(tmp_path / "state")
    store.record({"s1": Applied(1, "r1", 1.0)})
    before = store.path.read_text()

    def crash(*_: object) -> None:
        raise OSError(28, "No space left on device")

    # A failure before the rename leaves the old file and no temp file; memory is not changed.
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        store.record({"s1": Applied(2, "r2", 2.0)})
    monkeypatch.undo()
    assert store.path.read_text() == before
    assert store.last("s1") == Applied(1, "r1", 1.0)
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["dns-sync-state.json"]
    store.record({"s2": Applied(5, "r1", 3.0)})
    doc = json.loads(store.path.read_text())
    assert doc["strategies"] == {
        "s1": {"sequence": 1, "activeRegion": "r1", "appliedAt": 1.0},
        "s2": {"sequence": 5, "activeRegion": "r1", "appliedAt": 3.0},
    }
