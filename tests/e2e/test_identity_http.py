"""Over real HTTP: one document number written in a dozen digit scripts is one identity, even when
the spellings race each other from real threads (R1 normalisation under R2 contention)."""
import pytest

from tests.e2e.test_http import fresh, in_threads, person, site_with_slots, slot_ids

pytestmark = pytest.mark.e2e
# The zero of twelve decimal digit scripts: ASCII, fullwidth, Arabic-Indic, Extended Arabic-Indic,
# Devanagari, Bengali, Gurmukhi, Gujarati, Tamil, Thai, Myanmar, Khmer.
ZEROS = (0x30, 0xFF10, 0x660, 0x6F0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xBE6, 0xE50, 0x1040, 0x17E0)
SEPARATORS = (" ", "\u00a0", "\u2009", "-", "\u2013", "\u2011", ".", "/", "\u200b", "\u3000", "\u2212", "\u00b7")


def in_script(number, zero, separator):
    return separator.join(chr(zero + int(d)) for d in number)


def test_one_document_in_twelve_scripts_racing_for_twelve_slots_gets_exactly_one_hold(http):
    slots = site_with_slots(http, slot_minutes=15)[:12]
    assert len(slots) == 12
    me = person()
    spellings = [{**me, "document": {"type": "agdref", "number": in_script(me["document"]["number"], zero, sep)}}
                 for zero, sep in zip(ZEROS, SEPARATORS, strict=True)]
    clients = [fresh(http) for _ in range(12)]
    for client, spelling in zip(clients, spellings, strict=True):  # R10: tokens first, so the holds race
        assert client.prove(spelling, http.site)
    replies = in_threads(12, lambda i: clients[i].hold(slots[i]["slot_id"], spellings[i]))
    statuses = sorted(r.status for r in replies)
    assert statuses.count(201) == 1, replies
    assert {r.code for r in replies if r.status != 201} <= {"hold_already_active", "state_changed"}
    assert len({s["slot_id"] for s in slots} - set(slot_ids(http))) == 1


def test_a_number_with_a_foreign_letter_is_refused_over_http(http):
    slots = site_with_slots(http)
    me = person()
    number = me["document"]["number"]
    refused = http.hold(slots[0]["slot_id"], {**me, "document": {"type": "agdref", "number": number[:5] + "\u0431" + number[5:]}})
    assert refused.status == 422 and refused.body["error"]["details"]["field"] == "applicant.document.number", refused
