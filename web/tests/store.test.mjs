// The device keeps a link token only while it can still do something (web/src/store.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

const kept = new Map();
globalThis.localStorage = { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => kept.set(k, v) };
const { current, store } = await import('../src/store.js');

const now = Date.parse('2026-12-10T12:00:00Z');

test('a booking token is dropped the day after its appointment, a request token the day after its last day', () => {
  const records = {
    past: { booking_id: 'past', booking_token: 't1', slot: { starts_at: '2026-12-08T08:00:00Z', ends_at: '2026-12-08T09:00:00Z' } },
    today: { booking_id: 'today', booking_token: 't2', slot: { starts_at: '2026-12-10T08:00:00Z', ends_at: '2026-12-10T09:00:00Z' } },
    coming: { booking_id: 'coming', booking_token: 't3', slot: { starts_at: '2026-12-20T08:00:00Z' } },
    unknown: { booking_id: 'unknown', booking_token: 't4' },
  };
  assert.deepEqual(Object.keys(current(records, now)), ['today', 'coming', 'unknown']);
  const requests = { old: { request_id: 'old', to: '2026-12-05' }, open: { request_id: 'open', to: '2026-12-31' } };
  assert.deepEqual(Object.keys(current(requests, now)), ['open']);
});

test('the store never hands back a token whose booking is over', () => {
  store.saveBooking({ booking_id: 'b1', booking_token: 'secret', slot: { starts_at: '2020-01-01T08:00:00Z' } });
  assert.equal(store.booking('b1'), null);
  store.saveBooking({ booking_id: 'b2', booking_token: 'secret', slot: { starts_at: '2999-01-01T08:00:00Z' } });
  assert.equal(store.booking('b2').booking_token, 'secret');
});
