"""A draw's record is cut into chunks that each fit one DynamoDB item, and nothing is lost."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.storage.draws import _chunks

ITEMS = st.lists(st.fixed_dictionaries({"slot_id": st.text(max_size=60), "day": st.text(max_size=10)}), max_size=200)


@settings(max_examples=200, deadline=None)
@given(ITEMS, st.integers(min_value=150, max_value=2000))
def test_chunks_keep_every_item_in_order_and_each_fits_its_budget(items, budget):
    chunks = list(_chunks(items, budget))
    assert [item for chunk in chunks for item in chunk] == items
    assert len(chunks) >= 1 and all(chunks[1:])  # only a record part with no items is one empty chunk
    for chunk in chunks:
        assert len(json.dumps(chunk)) <= budget or len(chunk) == 1  # an item alone larger than the budget: its own chunk
