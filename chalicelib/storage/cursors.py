"""The sealed cursor codec: a page's LastEvaluatedKey, opaque and bound to its list, and the
one-page Query that hands it out."""
import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NoReturn, overload

from chalicelib.platform import keys
from chalicelib.rules.errors import InvalidValue
from chalicelib.storage.calls import M, RawItem, query

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_VERSION = 2  # bytes: the key version a cursor was sealed under


class Ended(Enum):
    """resume_within's answer when nothing follows a cursor in the window queried now."""
    ENDED = "ended"


ENDED: Final = Ended.ENDED


def _cipher(secret: str, version: int) -> "AESGCM":
    """AES-GCM under the cursors key of this version, so a cursor is opaque and cannot be forged
    or edited (version 1's AES key is the one cursors had before keys had versions)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # cold start: cryptography (~15 ms), and most requests never page

    return AESGCM(hmac.new(secret.encode(), f"fairslot/cursor/v{version}".encode(), hashlib.sha256).digest())


def _list_of(partition: tuple[str, str]) -> bytes:
    """The list a cursor belongs to (index partition key and value): its associated data."""
    name, value = partition
    return f"{name}|{value}".encode()


def encode(key: RawItem, partition: tuple[str, str]) -> str:
    """DynamoDB's LastEvaluatedKey, sealed: it may name an item the filter dropped (a scheduled
    or quarantined slot), so nobody but the server may read it."""
    ring = keys.ring(keys.CURSORS)
    nonce = os.urandom(_NONCE)
    sealed = _cipher(ring.secret, ring.version).encrypt(nonce, json.dumps(key, separators=(",", ":")).encode(), _list_of(partition))
    # The key's version leads, in the clear (another version is another key: edited, the seal
    # fails): a cursor sealed before a rotation still opens while its version is listed.
    return base64.urlsafe_b64encode(ring.version.to_bytes(2, "big") + nonce + sealed).decode().rstrip("=")


def refuse() -> NoReturn:
    raise InvalidValue("page_cursor", "{page_cursor} is not one a previous page of this list returned.")


def decode(cursor: str, key_names: Iterable[str], partition: tuple[str, str]) -> RawItem:
    """The start key a cursor carries, checked against the Query it is for: sealed by this server
    for this list (`partition`, (name, value) of the index's partition key), exactly `key_names`,
    string values. A garbled, edited or truncated cursor, or one of another list (another
    search, another partner), is a 422, never followed."""
    from cryptography.exceptions import InvalidTag  # cold start: loads cryptography's Rust bindings, as _cipher does

    name, value = partition
    try:
        key = json.loads(_unsealed(cursor, partition))
        valid = (
            isinstance(key, dict)
            and set(key) == set(key_names)
            and all(isinstance(v, dict) and isinstance(v.get("S"), str) and len(v) == 1 for v in key.values())
            and key[name]["S"] == value
        )
    except (ValueError, binascii.Error, UnicodeError, InvalidTag):
        valid = False
    if not valid:
        refuse()
    return key


def _unsealed(cursor: str, partition: tuple[str, str]) -> bytes:
    """What the cursor seals, if this server sealed it for this list under a version of the
    cursors key still listed (ValueError, binascii.Error or InvalidTag otherwise)."""
    raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
    if len(raw) <= _VERSION + _NONCE + 16:
        raise ValueError("too short")
    version = int.from_bytes(raw[:_VERSION], "big")
    secret = keys.ring(keys.CURSORS).secret_of(version)
    if secret is None:
        raise ValueError("sealed under a retired key")  # the client starts again from page one
    plain: bytes = _cipher(secret, version).decrypt(raw[_VERSION:_VERSION + _NONCE], raw[_VERSION + _NONCE:], _list_of(partition))
    return plain


@overload
def resume_within(start_key: RawItem | None, range_name: str, low: str) -> RawItem | None: ...
@overload
def resume_within(start_key: RawItem | None, range_name: str, low: str, high: str | None) -> RawItem | Ended | None: ...
def resume_within(start_key: RawItem | None, range_name: str, low: str, high: str | None = None) -> RawItem | Ended | None:
    """A cursor's start key for the window queried now. DynamoDB refuses a start key outside the
    key condition (ValidationException), and a window moves under a cursor (its start is "now",
    or the caller changed from/to): before the window, every item of it comes after the cursor,
    so the Query starts afresh; after it, nothing follows (ENDED)."""
    if start_key is None:
        return None
    at = start_key[range_name]["S"]
    if high is not None and at > high:
        return ENDED
    return None if at < low else start_key


def query_page(model: type[M], partition_name: str, partition: str, limit: int, start_key: RawItem | None, **conditions: Any) -> tuple[list[M], str | None]:
    """ONE Query (of `model`'s table, or of `index=`, one of its indexes): the page's items and the
    cursor of the next page (None at the end). A page may hold fewer than `limit` items, even
    none, while a cursor follows."""
    page, last = query(model, partition, limit=limit, start_key=start_key, **conditions)
    cursor = encode(last, (partition_name, partition)) if last else None
    return [model.from_raw_data(item) for item in page], cursor


FILL_QUERIES: Final = 8  # the most Queries one filled page may take (a bounded read, whatever the filter hides)
FILL_QUERY_LIMIT: Final = 100  # the items each of those Queries evaluates, at least


def query_filled(model: type[M], partition_name: str, partition: str, limit: int, start_key: RawItem | None, key_names: Iterable[str],
                 keep: Callable[[M], bool] = lambda _: True, **conditions: Any) -> tuple[list[M], str | None]:
    """A page of up to `limit` items that pass the Query's filter and `keep`, from as many Queries
    as that takes (at most FILL_QUERIES of at least FILL_QUERY_LIMIT items each). The cursor is
    made from the last item returned, never from an item the filter dropped, so a short page or
    a cursor tells nothing about hidden items: a page holds fewer than `limit` items only at the
    end of the list (cursor None), or when the bounded read ran out (then the cursor resumes
    after what was read: it says no more than "over FILL_QUERIES x FILL_QUERY_LIMIT items hidden
    here")."""
    names = tuple(key_names)
    found: list[M] = []
    last_kept: RawItem | None = None
    for _ in range(FILL_QUERIES):
        page, start_key = query(model, partition, limit=max(limit, FILL_QUERY_LIMIT), start_key=start_key, **conditions)
        for raw in page:
            item = model.from_raw_data(raw)
            if keep(item):
                found.append(item)
                last_kept = raw
                if len(found) == limit:
                    return found, encode({name: raw[name] for name in names}, (partition_name, partition))
        if start_key is None:
            return found, None
    resume = start_key if start_key is not None else last_kept
    return found, encode({name: resume[name] for name in names}, (partition_name, partition)) if resume else None
