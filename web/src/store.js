// What survives a reload on this device: the language, and the ids + tokens of the bookings and
// draw requests made here (the token is the only key to them; no account exists).

const KEY = 'fairslot.v1';
const DAY = 86400 * 1000;

// A link token is kept only while it can still do something: a booking's until the day after its
// appointment, a draw request's until the day after its last day. Then it is dropped from this
// device, so that a token found later in a shared browser opens nothing of its owner's.
export function current(records, now = Date.now()) {
  const ends = (r) => Date.parse((r.slot && (r.slot.ends_at || r.slot.starts_at)) || (r.to ? `${r.to}T23:59:59Z` : ''));
  return Object.fromEntries(Object.entries(records || {}).filter(([, r]) => !(ends(r) + DAY < now)));
}

function load() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY)) || {};
    return { lang: data.lang || null, bookings: current(data.bookings), requests: current(data.requests) };
  } catch {
    return { lang: null, bookings: {}, requests: {} };
  }
}

function save(data) {
  try { localStorage.setItem(KEY, JSON.stringify(data)); } catch { /* private mode: session only */ }
}

export const store = {
  lang: () => load().lang,
  setLang(lang) { const d = load(); d.lang = lang; save(d); },
  booking: (id) => load().bookings[id] || null,
  bookings: () => Object.values(load().bookings),
  saveBooking(record) { const d = load(); d.bookings[record.booking_id] = { ...d.bookings[record.booking_id], ...record }; save(d); },
  forgetBooking(id) { const d = load(); delete d.bookings[id]; save(d); },
  request: (id) => load().requests[id] || null,
  requests: () => Object.values(load().requests),
  saveRequest(record) { const d = load(); d.requests[record.request_id] = { ...d.requests[record.request_id], ...record }; save(d); },
  forgetRequest(id) { const d = load(); delete d.requests[id]; save(d); },
};
