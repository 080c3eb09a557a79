// The fairslot HTTP API (SPEC §5) as small async functions; every failure becomes an ApiError.
import { ERRORS } from './contract.js';
import { lang, t } from './i18n.js';
import { formatDuration } from './format.js';

const DEFAULT_API = 'http://127.0.0.1:8000';
const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** The API base URL: ?api= (only when the app itself is served locally, so that a link cannot
 * send someone's identity to another server), else window.FAIRSLOT_API (config.js), else default. */
export function apiBase() {
  const fromQuery = new URLSearchParams(location.search).get('api');
  if (fromQuery && LOCAL_HOSTS.includes(location.hostname)) return fromQuery.replace(/\/+$/, '');
  return String(window.FAIRSLOT_API || DEFAULT_API).replace(/\/+$/, '');
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status; // 0 when the network failed
    this.code = err.code || '';
    this.details = err.details || {};
    this.retryAfter = retryAfter; // seconds or null
  }

  /** The field (dotted path) a 422 names, if any. */
  get field() {
    return this.status === 422 ? this.details.field || null : null;
  }
}

function parseRetryAfter(value) {
  if (!value) return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.round((when - Date.now()) / 1000));
}

async function call(method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiBase() + path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null, null);
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) {
    // Retry-After is readable only if the API exposes it (Access-Control-Expose-Headers);
    // details.retry_after is accepted as a fallback.
    const retry = parseRetryAfter(response.headers.get('Retry-After'))
      ?? parseRetryAfter(data && data.error && data.error.details && data.error.details.retry_after);
    throw new ApiError(response.status, data, retry);
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  sites: () => call('GET', '/sites'),
  slots: (siteId, { procedure, from, to, limit, cursor }, opts) => {
    const q = new URLSearchParams({ procedure });
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    if (limit) q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    return call('GET', `/sites/${enc(siteId)}/slots?${q}`, opts);
  },
  hold: (slotId, applicant, identityToken) => call('POST', '/holds', {
    body: identityToken ? { slot_id: slotId, applicant, identity_token: identityToken } : { slot_id: slotId, applicant } }),
  startVerification: (body) => call('POST', '/verifications', { body }),
  checkCode: (id, code) => call('POST', `/verifications/${enc(id)}`, { body: { code } }),
  releaseHold: (holdId, token) => call('DELETE', `/holds/${enc(holdId)}`, { headers: { 'X-Hold-Token': token } }),
  book: (holdId, holdToken) => call('POST', '/bookings', { body: { hold_id: holdId, hold_token: holdToken } }),
  lookupBooking: (body) => call('POST', '/bookings/lookup', { body }),
  booking: (id, token) => call('GET', `/bookings/${enc(id)}`, { headers: { 'X-Booking-Token': token } }),
  cancelBooking: (id, token) => call('DELETE', `/bookings/${enc(id)}`, { headers: { 'X-Booking-Token': token } }),
  fileRequest: (body) => call('POST', '/requests', { body }),
  request: (id, token) => call('GET', `/requests/${enc(id)}`, { headers: { 'X-Request-Token': token } }),
  withdrawRequest: (id, token) => call('DELETE', `/requests/${enc(id)}`, { headers: { 'X-Request-Token': token } }),
};

const RETRY_IN = {
  429: { fr: 'Vous pourrez réessayer dans {wait}.', en: 'You can try again in {wait}.' },
  503: { fr: 'Réessayez dans {wait}.', en: 'Try again in {wait}.' },
};

/** A message for the user for any ApiError: the catalogue's text for its literal code
 * (web/src/contract.js, generated from the API's error catalogue), else one per status.
 * `context` 'slot' words a bare 404 as a slot that is gone. */
export function errorMessage(error, context = '') {
  if (!(error instanceof ApiError)) return t('api.5xx');
  const { status, code } = error;
  if (status === 0) return t('api.network');
  const wait = error.retryAfter != null ? formatDuration(error.retryAfter) : null;
  const known = ERRORS[code];
  let text;
  if (known && known.status === status) text = known[lang()] || known.fr;
  else if (status === 404 && context === 'slot') text = t('api.404.slot');
  else if ([400, 401, 403, 404, 409, 410, 422].includes(status)) text = t(`api.${status}`);
  else if (status === 429) return wait ? t('api.429', { wait }) : t('api.429.nowait');
  else if (status === 503) return wait ? t('api.503', { wait }) : t('api.503.nowait');
  else return t('api.5xx');
  if (wait && RETRY_IN[status]) text += ' ' + (RETRY_IN[status][lang()] || RETRY_IN[status].fr).replace('{wait}', wait);
  return text;
}
