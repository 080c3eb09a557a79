// What survives a reload in this tab only (sessionStorage): the step reached, what was typed, the
// slot chosen, the live hold (id, token, deadline) and the identity proof of the one-time code.
// The hold is dropped as soon as it ends (booked, released, lapsed); nothing here outlives the tab.

const KEY = 'fairslot.flow.v1';

/** The flow's fields worth keeping: never the sites list, the slot list or transient flags. */
const KEPT = ['siteId', 'procedureId', 'day', 'slot', 'applicant', 'range', 'standbyChosen', 'hold', 'verification', 'proof', 'checks', 'blockedUntil'];

export function loadFlow() {
  try {
    const data = JSON.parse(sessionStorage.getItem(KEY));
    if (!data || typeof data !== 'object') return {};
    // A hold whose deadline has passed is not kept: the API has let it go.
    if (data.hold && !(Date.parse(data.hold.expires_at) > Date.now())) data.hold = null;
    if (data.proof && !(Date.parse(data.proof.expires_at) > Date.now())) data.proof = null;
    return Object.fromEntries(KEPT.filter((k) => k in data).map((k) => [k, data[k]]));
  } catch {
    return {};
  }
}

export function saveFlow(state) {
  try {
    const kept = Object.fromEntries(KEPT.map((k) => [k, state[k] ?? null]));
    if (kept.hold && !(Date.parse(kept.hold.expires_at) > Date.now())) kept.hold = null; // it has ended
    sessionStorage.setItem(KEY, JSON.stringify(kept));
  } catch { /* storage refused (private mode, quota): the tab keeps working without it */ }
}

/** The step addresses: `#/<step>?site=…&procedure=…`; the search step is `#/`. */
export const STEPS = ['slot', 'standby', 'range', 'identity', 'code', 'confirm'];

export function parseStepHash(hash) {
  if (['', '#', '#/'].includes(hash)) return { step: 'site', params: new URLSearchParams() };
  const m = hash.match(/^#\/([a-z]+)(?:\?(.*))?$/);
  if (!m || !STEPS.includes(m[1])) return null;
  return { step: m[1], params: new URLSearchParams(m[2] || '') };
}

export function stepHash(step, siteId, procedureId) {
  if (step === 'site' || !siteId || !procedureId) return '#/';
  return `#/${step}?${new URLSearchParams({ site: siteId, procedure: procedureId })}`;
}
