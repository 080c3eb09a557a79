// The applicants' single-page app: choose a site and procedure, a slot, give an identity, hold,
// confirm; see, print or cancel the booking; or, in draw mode, file a request and confirm an offer.
import { api, ApiError, errorMessage } from './api.js';
import { DICTIONARIES, lang, setLang, t, tn } from './i18n.js';
import { html } from './html.js';
import { store } from './store.js';
import {
  addDays, dayIn, formatClock, formatDate, formatDateTime, formatDay, formatDuration, formatTime, startOfDay,
} from './format.js';
import { applicantBody, normaliseDocument, validateApplicant, validateRange } from './validate.js';
import { loadFlow, parseStepHash, saveFlow, stepHash } from './session.js';

const SEARCH_AHEAD_DAYS = 60;
const SLOTS_PAGE = 60;
const MAX_PAGES = 12;

const state = {
  sites: null,
  sitesError: null,
  siteId: '',
  procedureId: '',
  step: 'site', // site | slot | identity | hold | range
  day: null,
  slots: [],
  nextCursor: null,
  slotsLoading: false,
  slotsError: null,
  noneAhead: false,
  standby: null, // the search's `standby` offer (auto, nothing found): { request, draw_interval_seconds }
  standbyChosen: false,
  slot: null,
  applicant: { docType: 'agdref', docNumber: '', birthDate: '', birthDay: '', birthMonth: '', birthYear: '', familyName: '', givenNames: '', email: '', phone: '' },
  range: { from: '', fromDay: '', fromMonth: '', fromYear: '', to: '', toDay: '', toMonth: '', toYear: '', permitExpiresOn: '', permitDay: '', permitMonth: '', permitYear: '' },
  pick: { iso: '', dayDay: '', dayMonth: '', dayYear: '' }, // the day picker's three fields
  verification: null, // { verification_id, expires_at, sentAt, identity, kind }: a code was sent
  proof: null, // { token, expires_at, destination, identity, siteId, procedureId }: the code was right
  code: '',
  checks: {}, // 'site/procedure' -> identity_check learnt from a 403 identity_unverified
  holdConflict: false, // the API said this identity already holds a slot (409 hold_already_active)
  blockedUntil: null, // ms: after a release, a lapse or a cancellation, when booking is possible again
  lookup: { docType: 'agdref', docNumber: '', birthDate: '', birthDay: '', birthMonth: '', birthYear: '', email: '' },
  fieldErrors: {}, // dotted API field path -> [message key, params] or ['raw', text]
  hold: null,
  holdExpired: false,
  alert: null, // { type: 'error' | 'success' | 'info' | 'warning', text, title? }
  busy: false,
  page: null, // { kind: 'booking' | 'request' | 'find' | 'info', id, data, error, cancelOpen, justBooked }
};

const app = () => document.getElementById('app');
let ticker = null;
let poller = null;

// ---------------------------------------------------------------- helpers

function site() { return (state.sites || []).find((s) => s.site_id === state.siteId) || null; }
function procedure() { const s = site(); return s ? (s.procedures || []).find((p) => p.procedure_id === state.procedureId) || null : null; }
/** A request flow: draw mode, or an `auto` procedure whose search found nothing and whose standby
 * list the applicant chose to join. */
function isDraw() { const p = procedure(); return !!p && (p.allocation === 'draw' || (p.allocation === 'auto' && state.standbyChosen)); }
function siteById(id) { return (state.sites || []).find((s) => s.site_id === id) || null; }
function tzOf(s) { return (s && s.timezone) || 'Europe/Paris'; }
/** A site's or procedure's name in the interface's language, where the site gives one. */
function nameOf(x) { return x ? (lang() === 'en' && x.name_en) || x.name : ''; }
function procedureOf(s, procedureId) { return s ? (s.procedures || []).find((x) => x.procedure_id === procedureId) || null : null; }
/** The waiting period after a cancellation or a hold let go (R4), in words, when the site says it. */
function cooldownText(p) { return p && p.cooldown_seconds ? formatDuration(p.cooldown_seconds) : null; }
/** How this procedure checks identities (R10): the site list's `identity_check`, else what a 403
 * identity_unverified taught this tab, else none. */
function identityCheck(p = procedure()) {
  if (!p) return 'none';
  return p.identity_check || state.checks[`${state.siteId}/${p.procedure_id}`] || 'none';
}
function needsCode() { return ['registry', 'contact'].includes(identityCheck()); }
/** Which identity a hold, a code or a proof belongs to (document and birth date, as the API keys it). */
function identityOf(a) { return `${a.docType}:${normaliseDocument(a.docNumber)}:${a.birthDate}`; }
function liveHold() { return state.hold && secondsLeft(state.hold) > 0 ? state.hold : null; }
/** The steps of this flow in order: stable from the first screen to the last (a standby list
 * joined from an empty search takes the place of the confirmation). */
function stepOrder() {
  const p = procedure();
  const code = needsCode() ? ['code'] : [];
  if (p && p.allocation === 'draw') return ['site', 'range', 'identity', ...code];
  if (state.standbyChosen) return ['site', 'slot', 'range', 'identity', ...code];
  return ['site', 'slot', 'identity', ...code, 'confirm'];
}
const STEP_TITLES = { site: 'step.site', slot: 'step.slot', standby: 'step.slot', range: 'step.range', identity: 'step.identity', code: 'step.code', confirm: 'step.confirm' };
/** The stepper of the current step: its number, the flow's total and the next step's name. */
function flowStepper(step, titleKey) {
  const order = stepOrder();
  const i = Math.max(0, order.indexOf(step === 'standby' ? 'slot' : step));
  return stepper(i + 1, order.length, titleKey || STEP_TITLES[step], order[i + 1] ? STEP_TITLES[order[i + 1]] : null);
}
/** After a release, a lapse or a cancellation (R4): when this person can book again, in words. */
function blockedNotice() {
  if (!state.blockedUntil || state.blockedUntil < Date.now()) return '';
  return html`<div class="fr-alert fr-alert--info fr-alert--sm fr-mb-3w" id="blocked-until"><p>${t('cooldown.until', { when: formatDateTime(state.blockedUntil, tzOf(site())) })}</p></div>`;
}
function startBlock(p = procedure()) {
  state.blockedUntil = Date.now() + 1000 * ((p && p.cooldown_seconds) || 86400);
}

function announce(text) {
  const live = document.getElementById('announcer');
  live.textContent = '';
  // A fresh text node after a tick makes screen readers announce repeated messages too.
  setTimeout(() => { live.textContent = text; }, 50);
}

function setAlert(type, text, title) { state.alert = { type, text, title }; }

function alertBlock() {
  if (!state.alert) return '';
  const { type, text, title } = state.alert;
  const role = type === 'error' || type === 'warning' ? 'alert' : 'status';
  return html`<div class="fr-alert fr-alert--${type} ${title ? '' : 'fr-alert--sm'} fr-mb-3w" role="${role}" id="page-alert" tabindex="-1">
    ${title ? html`<h2 class="fr-alert__title">${title}</h2>` : ''}<p>${text}</p></div>`;
}

function stepper(n, total, titleKey, nextKey) {
  return html`<div class="fr-stepper">
    <h1 class="fr-stepper__title" id="view-title" tabindex="-1">${t(titleKey)}
      <span class="fr-stepper__state">${t('step.of', { n, total })}</span></h1>
    <div class="fr-stepper__steps" data-fr-current-step="${n}" data-fr-steps="${total}"></div>
    ${nextKey ? html`<p class="fr-stepper__details"><span class="fr-text--bold">${t('step.next')}</span> ${t(nextKey)}</p>` : ''}
  </div>`;
}

function slotLabel(slot, s = site()) {
  const tz = tzOf(s);
  return `${formatDateTime(slot.starts_at, tz)} – ${formatTime(slot.ends_at, tz)}`;
}

function fieldId(path) { return `f-${path.replace(/\./g, '-')}`; }

function fieldError(path) {
  const e = state.fieldErrors[path];
  if (!e) return null;
  return e[0] === 'raw' ? t('err.field.server', { message: e[1] }) : t(e[0], e[1] || {});
}

function input(path, model, labelKey, { type = 'text', hintKey, hint, autocomplete, inputmode, required = true, max } = {}) {
  const id = fieldId(path);
  const error = fieldError(path);
  const value = model.split('.').reduce((o, k) => o[k], state);
  return html`<div class="fr-input-group ${error ? 'fr-input-group--error' : ''}">
    <label class="fr-label" for="${id}">${t(labelKey)}
      ${hintKey || hint ? html`<span class="fr-hint-text" id="${id}-hint">${hint || t(hintKey)}</span>` : ''}</label>
    <input class="fr-input ${error ? 'fr-input--error' : ''}" id="${id}" name="${path}" type="${type}" data-model="${model}"
      value="${value}" ${autocomplete ? html`autocomplete="${autocomplete}"` : ''} ${inputmode ? html`inputmode="${inputmode}"` : ''}
      ${required ? html`required aria-required="true"` : ''} ${max ? html`max="${max}"` : ''}
      aria-describedby="${id}-messages" ${error ? html`aria-invalid="true"` : ''}>
    <div class="fr-messages-group" id="${id}-messages" aria-live="polite">
      ${error ? html`<p class="fr-message fr-message--error">${error}</p>` : ''}</div>
  </div>`;
}

const DATE_PARTS = [['Day', 2, 'date.day', 'bday-day'], ['Month', 2, 'date.month', 'bday-month'], ['Year', 4, 'date.year', 'bday-year']];

/** A known date as three labelled fields, day, month and year (the DSFR's pattern for dates one
 * knows, such as a birth date): no native picker whose order depends on the browser's locale.
 * `model` is "<state group>.<prefix>", the parts live in <prefix>Day/Month/Year; the first field
 * carries the field id, so the error summary's link focuses it. */
function dateFields(path, model, labelKey, { hintKey, birth = false, required = true } = {}) {
  const id = fieldId(path);
  const error = fieldError(path);
  const [group, prefix] = model.split('.');
  return html`<fieldset class="fr-fieldset date-fields ${error ? 'fr-fieldset--error' : ''}" role="group" id="${id}-fieldset"
      aria-labelledby="${id}-legend" aria-describedby="${id}-messages">
    <legend class="fr-fieldset__legend fr-fieldset__legend--regular" id="${id}-legend">${t(labelKey)}
      ${hintKey ? html`<span class="fr-hint-text">${t(hintKey)}</span>` : ''}</legend>
    ${DATE_PARTS.map(([part, size, labelPart, auto], i) => {
    const pid = i === 0 ? id : `${id}-${part.toLowerCase()}`;
    return html`<div class="fr-fieldset__element fr-fieldset__element--inline date-fields__${part.toLowerCase()}">
      <div class="fr-input-group ${error ? 'fr-input-group--error' : ''}">
        <label class="fr-label" for="${pid}">${t(labelPart)}<span class="fr-hint-text">${t(`${labelPart}.hint`)}</span></label>
        <input class="fr-input ${error ? 'fr-input--error' : ''}" id="${pid}" name="${path}.${part.toLowerCase()}" type="text"
          inputmode="numeric" maxlength="${size}" size="${size + 1}" data-model="${group}.${prefix}${part}" value="${state[group][prefix + part]}"
          ${birth ? html`autocomplete="${auto}"` : html`autocomplete="off"`} ${required ? html`required aria-required="true"` : ''}
          aria-describedby="${id}-messages" ${error ? html`aria-invalid="true"` : ''}>
      </div></div>`;
  })}
    <div class="fr-messages-group" id="${id}-messages" aria-live="polite">
      ${error ? html`<p class="fr-message fr-message--error">${error}</p>` : ''}</div>
  </fieldset>`;
}

/** The ISO date the three fields make ('' when all are empty; an impossible one fails validation). */
function datePartsIso(day, month, year) {
  const [d, m, y] = [day, month, year].map((v) => String(v || '').trim());
  if (!d && !m && !y) return '';
  if (!/^\d{1,2}$/.test(d) || !/^\d{1,2}$/.test(m) || !/^\d{4}$/.test(y)) return `${y}-${m}-${d}`;
  return `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
}

function errorSummary() {
  const entries = Object.keys(state.fieldErrors);
  if (!entries.length) return '';
  return html`<div class="fr-alert fr-alert--error fr-mb-3w" role="alert" id="error-summary" tabindex="-1">
    <h2 class="fr-alert__title">${tn('identity.summary', entries.length)}</h2>
    <ul>${entries.map((path) => html`<li><a href="#${fieldId(path)}" data-focus="${fieldId(path)}">${labelFor(path)}${t('punct.colon')} ${fieldError(path)}</a></li>`)}</ul>
  </div>`;
}

const FIELD_LABELS = {
  'applicant.document.type': 'identity.docType',
  'applicant.document.number': 'identity.number',
  'applicant.document': 'identity.number',
  'applicant.birth_date': 'identity.birth',
  'applicant.family_name': 'identity.family',
  'applicant.given_names': 'identity.given',
  'applicant.email': 'identity.email',
  'applicant.phone': 'identity.phone',
  from: 'range.from',
  to: 'range.to',
  'document.type': 'identity.docType',
  'document.number': 'identity.number',
  document: 'identity.number',
  birth_date: 'identity.birth',
  email: 'find.email',
  permit_expires_on: 'range.permit',
};
function labelFor(path) { return FIELD_LABELS[path] ? t(FIELD_LABELS[path]) : path; }

/** Where the API's 422 lands: the same field as the client check, with the client's wording
 * when we know the rule, else the server's own message. */
function applyServerFieldError(error) {
  const path = error.field === 'applicant.document' ? 'applicant.document.number' : error.field;
  if (!path) return false;
  const known = validateApplicant(state.applicant)[path] || validateRange(state.range)[path];
  state.fieldErrors = { [path]: known || ['raw', error.message] };
  return true;
}

// ---------------------------------------------------------------- rendering

function render({ focus = null } = {}) {
  clearInterval(ticker);
  ticker = null;
  const previous = document.activeElement && document.activeElement.id;
  let view;
  if (state.page) view = { booking: bookingView, request: requestView, find: findView, info: infoView, badlink: badLinkView }[state.page.kind]();
  else if (!state.sites) view = siteView(); // the step is settled once the sites are known
  else view = { site: siteView, slot: slotView, standby: standbyView, identity: identityView, code: codeView, confirm: holdView, range: rangeView }[state.step]();
  app().innerHTML = String(view);
  document.title = `${document.getElementById('view-title')?.textContent.replace(/\s+/g, ' ').trim() || t('app.title')} — ${t('app.title')}`;
  renderChrome();
  saveFlow(state);
  afterRender();
  if (focus === 'title') document.getElementById('view-title')?.focus();
  else if (focus === 'alert') (document.getElementById('page-alert') || document.getElementById('view-title'))?.focus();
  else if (focus === 'summary') document.getElementById('error-summary')?.focus();
  else if (focus) document.getElementById(focus)?.focus();
  // A re-render (data arriving, a timer) must not drop the keyboard user's place.
  else if (previous && previous !== 'main') document.getElementById(previous)?.focus({ preventScroll: true });
}

function renderChrome() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  const sw = document.getElementById('lang-switch');
  const other = lang() === 'fr' ? 'en' : 'fr';
  sw.textContent = DICTIONARIES[lang()]['lang.switch'];
  sw.lang = other;
  sw.title = DICTIONARIES[lang()]['lang.switch.title'];
}

function afterRender() {
  const hold = state.page ? state.page.offer : state.hold;
  if (hold && !state.holdExpired && document.getElementById('countdown')) startCountdown(hold);
  else if (document.querySelector('[data-deadline], #resend-code')) startCountdown(null);
}

// ---------------------------------------------------------------- step 1: site & procedure

function existingNotices() {
  const bookings = store.bookings().filter((b) => b.status !== 'cancelled' && !b.pending);
  const requests = store.requests().filter((r) => !['withdrawn', 'booked', 'expired'].includes(r.status) && !r.pending);
  if (!bookings.length && !requests.length) return '';
  return html`<div class="fr-callout fr-mb-4w"><h2 class="fr-callout__title fr-h6">${bookings.length ? t('home.existing') : t('home.existing.request')}</h2>
    <ul class="fr-callout__text fr-text--md">
      ${bookings.map((b) => html`<li><a class="fr-link" href="#/booking/${encodeURIComponent(b.booking_id)}">${t('home.existing.link', { reference: b.reference || '' })}</a></li>`)}
      ${requests.map((r) => html`<li><a class="fr-link" href="#/request/${encodeURIComponent(r.request_id)}">${t('home.existing.request.link')}</a></li>`)}
    </ul></div>`;
}

function siteView() {
  const sites = state.sites || [];
  const s = site();
  const procs = s ? s.procedures || [] : [];
  const loading = !state.sites && !state.sitesError;
  const draw = isDraw();
  return html`
    ${flowStepper('site')}
    <p class="fr-mb-3w">${t('home.intro')}</p>
    ${liveHoldPanel()}
    ${blockedNotice()}
    ${existingNotices()}
    <p class="fr-mb-3w"><a class="fr-link fr-icon-search-line fr-link--icon-left" href="#/find" id="find-link">${t('find.link')}</a></p>
    ${alertBlock()}
    ${state.sitesError ? html`<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-3w" role="alert"><p>${errorMessage(state.sitesError)}</p></div>
      <button class="fr-btn fr-btn--secondary fr-mb-3w" type="button" data-action="reload-sites">${t('retry')}</button>` : ''}
    <form data-form="site" novalidate>
      <div class="fr-select-group">
        <label class="fr-label" for="site">${t('site.label')}</label>
        <select class="fr-select" id="site" name="site" data-model="siteId" required ${loading || state.sitesError ? 'disabled' : ''}
          ${loading ? html`aria-busy="true"` : ''}>
          <option value="" ${state.siteId ? '' : 'selected'} disabled>${loading ? t('loading') : t('site.placeholder')}</option>
          ${sites.map((x) => html`<option value="${x.site_id}" ${x.site_id === state.siteId ? 'selected' : ''}>${nameOf(x)}</option>`)}
        </select>
      </div>
      ${s ? html`<p class="fr-text--sm fr-mb-3w" id="site-address">${s.address || ''}</p>` : ''}
      <div class="fr-select-group">
        <label class="fr-label" for="procedure">${t('procedure.label')}</label>
        <select class="fr-select" id="procedure" name="procedure" data-model="procedureId" required ${s ? '' : 'disabled'}>
          <option value="" ${state.procedureId ? '' : 'selected'} disabled>${t('procedure.placeholder')}</option>
          ${procs.map((p) => html`<option value="${p.procedure_id}" ${p.procedure_id === state.procedureId ? 'selected' : ''}>${nameOf(p)}${p.allocation === 'draw' ? ` (${t('procedure.draw')})` : ''}</option>`)}
        </select>
      </div>
      ${draw ? html`<div class="fr-callout fr-mb-3w" id="draw-explain"><p class="fr-callout__text fr-text--md">${t('procedure.draw.explain')}</p></div>` : ''}
      <button class="fr-btn" type="submit" id="site-continue" ${s && procedure() ? '' : 'disabled'}>${t('continue')}</button>
    </form>`;
}

async function loadSites() {
  state.sitesError = null;
  try {
    const data = await api.sites();
    state.sites = data.sites || [];
    state.retentionDays = data.personal_data_retention_days || null;
    if (state.sites.length === 1 && !state.siteId) state.siteId = state.sites[0].site_id;
  } catch (e) {
    state.sitesError = e;
  }
  const focus = document.activeElement && document.activeElement !== document.body ? document.activeElement.id : null;
  if (!state.page && state.sites) settleStep({ focus });
  else if (!state.page) render({ focus }); // the step stays in the address: Retry shows it
  else if (state.page && ['booking', 'request', 'info'].includes(state.page.kind)) render({ focus: pageReady(state.page) ? 'title' : null });
  document.documentElement.dataset.sites = state.sitesError ? 'error' : 'ready';
}

// ---------------------------------------------------------------- step 2: slot (fcfs)

function recapLine() {
  const s = site();
  const p = procedure();
  return html`<p class="fr-text--sm fr-mb-2w"><strong>${nameOf(s)}</strong> — ${nameOf(p)}
    <button type="button" class="fr-btn fr-btn--tertiary-no-outline fr-btn--sm fr-ml-1w" data-action="go-site">${t('change')}</button></p>`;
}

function today() { return dayIn(Date.now(), tzOf(site())); }

function slotView() {
  const s = site();
  const tz = tzOf(s);
  const dayText = state.day ? formatDay(state.day, tz) : '';
  let list;
  if (state.slotsLoading && !state.slots.length) list = html`<p aria-busy="true">${t('loading')}</p>`;
  else if (state.slotsError) list = html`<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>${errorMessage(state.slotsError)}</p></div>
    <button class="fr-btn fr-btn--secondary fr-mt-2w" type="button" data-action="reload-slots">${t('retry')}</button>`;
  else if (state.noneAhead) list = html`<p id="slots-empty">${t('slots.noneAhead', { days: SEARCH_AHEAD_DAYS })}</p>
    <button class="fr-btn fr-btn--secondary" type="button" data-action="reload-slots">${t('slots.refresh')}</button>`;
  else if (!state.slots.length) list = html`<p id="slots-empty">${t('slots.none')}</p>
    <button class="fr-btn fr-btn--secondary" type="button" data-action="find-next" id="find-next">${t('slots.findNext')}</button>`;
  else {
    list = html`<ul class="slot-list" aria-labelledby="slots-legend">
      ${state.slots.map((x) => html`<li><button type="button" class="fr-btn fr-btn--secondary slot-btn" data-action="pick-slot" data-slot="${x.slot_id}"
        aria-label="${t('slots.choose')}${t('punct.colon')} ${slotLabel(x, s)}">${formatTime(x.starts_at, tz)}<span class="slot-end" aria-hidden="true">–${formatTime(x.ends_at, tz)}</span></button></li>`)}
    </ul>
    <p class="fr-text--sm fr-mt-1w" id="slots-count" aria-live="polite">${tn('slots.count', state.slots.length)}</p>
    ${state.nextCursor ? html`<button class="fr-btn fr-btn--tertiary" type="button" data-action="more-slots" id="more-slots">${t('slots.more')}</button>` : ''}`;
  }
  return html`
    ${flowStepper('slot')}
    ${recapLine()}
    ${liveHoldPanel()}
    ${blockedNotice()}
    ${alertBlock()}
    <form data-form="day" class="day-nav fr-mb-2w" novalidate>
      ${dateFields('day', 'pick.day', 'slots.day', { hintKey: 'slots.day.hint' })}
      <button type="submit" class="fr-btn fr-btn--secondary" id="day-show">${t('slots.show')}</button>
    </form>
    <ul class="fr-btns-group fr-btns-group--inline fr-btns-group--sm day-steps">
      <li><button type="button" class="fr-btn fr-btn--tertiary" id="day-prev" data-action="day-prev" ${state.day && state.day > today() ? '' : 'disabled'}>${t('slots.prev')}</button></li>
      <li><button type="button" class="fr-btn fr-btn--tertiary" id="day-next" data-action="day-next" ${state.day ? '' : 'disabled'}>${t('slots.next')}</button></li>
    </ul>
    <h2 class="fr-h5" id="slots-legend">${state.day ? t('slots.legend', { day: dayText }) : t('step.slot')}</h2>
    <div id="slots" ${state.slotsLoading ? html`aria-busy="true"` : ''}>${list}</div>
    <div class="fr-mt-4w"><button class="fr-btn fr-btn--tertiary" type="button" data-action="go-site">${t('back')}</button></div>`;
}

/** The search found nothing within SEARCH_AHEAD_DAYS and the procedure keeps a standby list:
 * say so, and what joining means (draws, how often, an e-mail), before anyone joins. */
function standbyView() {
  const every = state.standby && state.standby.draw_interval_seconds ? formatDuration(state.standby.draw_interval_seconds) : null;
  const loading = state.slotsLoading || (!state.standby && !state.slotsError);
  return html`
    ${flowStepper('standby', 'standby.step')}
    ${recapLine()}
    ${liveHoldPanel()}
    ${blockedNotice()}
    ${alertBlock()}
    ${loading ? html`<p aria-busy="true">${t('loading')}</p>`
    : state.slotsError ? html`<div class="fr-alert fr-alert--error fr-alert--sm" role="alert"><p>${errorMessage(state.slotsError)}</p></div>
      <button class="fr-btn fr-btn--secondary fr-mt-2w" type="button" data-action="reload-slots">${t('retry')}</button>`
    : html`<p id="slots-empty">${t('standby.none', { days: SEARCH_AHEAD_DAYS })}</p>
    <div class="fr-callout fr-mb-3w" id="standby-offer"><h2 class="fr-callout__title fr-h6">${t('standby.title')}</h2>
      <p class="fr-callout__text fr-text--md">${every ? t('standby.explain', { every }) : t('standby.explain.noevery')}</p>
      <p class="fr-callout__text fr-text--md">${t('standby.mail')}</p>
      <button class="fr-btn" type="button" id="join-standby" data-action="join-standby">${t('standby.join')}</button></div>
    <button class="fr-btn fr-btn--secondary" type="button" data-action="reload-slots">${t('slots.refresh')}</button>`}
    <div class="fr-mt-4w"><button class="fr-btn fr-btn--tertiary" type="button" data-action="go-site">${t('back')}</button></div>`;
}

/** While a hold is live, every other step says so, with the time left, and offers to go back to
 * it or to let it go (and what letting it go costs). */
function liveHoldPanel() {
  const hold = liveHold();
  if (!hold || state.step === 'confirm') return '';
  const p = procedure();
  const s = site();
  const slot = hold.slot || state.slot;
  return html`<div class="fr-alert fr-alert--warning fr-mb-3w" id="live-hold" role="${state.holdConflict ? 'alert' : 'region'}" aria-labelledby="live-hold-title">
    <h2 class="fr-alert__title" id="live-hold-title">${state.holdConflict ? t('hold.conflict.title') : t('hold.live.title')}</h2>
    <p>${t('hold.live.text', { when: slot ? slotLabel(slot, s) : '', deadline: formatTime(hold.expires_at, tzOf(s)) })}
      <span data-deadline="${hold.expires_at}" class="live-hold__left">${formatClock(secondsLeft(hold))}</span></p>
    <p>${cooldownText(p) ? t('hold.release.cost', { wait: cooldownText(p) }) : t('hold.release.warn')}</p>
    <ul class="fr-btns-group fr-btns-group--inline-sm fr-mt-2w">
      <li><button class="fr-btn" type="button" id="resume-hold" data-action="resume-hold">${t('hold.resume')}</button></li>
      <li><button class="fr-btn fr-btn--secondary" type="button" id="release-live-hold" data-action="release-hold">${t('hold.release')}</button></li>
    </ul></div>`;
}

/** Slots in [from, to), following next_cursor: the API filters after its page limit, so a page
 * can be short or even empty while more slots follow. Stops at `want` slots or MAX_PAGES pages. */
async function fetchSlots(from, to, want, cursor) {
  let slots = [];
  let standby = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const data = await api.slots(state.siteId, { procedure: state.procedureId, from, to, limit: Math.max(want, 20), cursor });
    slots = slots.concat(data.slots || []);
    standby = data.standby || standby;
    cursor = data.next_cursor || null;
    if (!cursor || slots.length >= want) break;
  }
  return { slots, cursor, standby };
}

/** Counters make several slots at one time: show each time once (the first slot id stands for it). */
function distinctTimes(slots) {
  const seen = new Set();
  return slots.filter((x) => (seen.has(x.starts_at) ? false : (seen.add(x.starts_at), true)));
}

async function loadDay(day, { append = false, focus = undefined } = {}) {
  const s = site();
  const tz = tzOf(s);
  if (day < today()) day = today(); // no search of the past (its slots cannot be held)
  state.day = day;
  setPick(day);
  if (state.step === 'standby') switchStep('slot');
  state.slotsLoading = true;
  state.slotsError = null;
  state.noneAhead = false;
  if (!append) { state.slots = []; state.nextCursor = null; }
  render({ focus: focus !== undefined ? focus : document.activeElement?.id || null });
  try {
    const { slots, cursor } = await fetchSlots(startOfDay(day, tz), startOfDay(addDays(day, 1), tz), SLOTS_PAGE, append ? state.nextCursor : undefined);
    const now = Date.now();
    const fresh = slots.filter((x) => new Date(x.ends_at).getTime() > now);
    state.slots = distinctTimes(append ? state.slots.concat(fresh) : fresh);
    state.nextCursor = cursor;
  } catch (e) {
    state.slotsError = e;
  }
  state.slotsLoading = false;
  const focusId = focus !== undefined ? focus : document.activeElement?.id;
  render({ focus: focusId && (focusId === 'alert' || document.getElementById(focusId)) ? focusId : null });
  if (!state.slotsError) announce(`${t('slots.legend', { day: formatDay(day, tz) })}. ${state.slots.length ? tn('slots.count', state.slots.length) : t('slots.none')}`);
}

function setPick(day) {
  const [y, m, d] = day.split('-');
  state.pick = { iso: day, dayDay: d, dayMonth: m, dayYear: y };
  delete state.fieldErrors.day;
}

/** Shows another step at the same place in history (the search's own outcome, not a move). */
function switchStep(step) {
  state.step = step;
  history.replaceState({ fairslotStep: step }, '', stepHash(step, state.siteId, state.procedureId));
}

/** Jump to the first day with a bookable slot, from `fromDay` on. */
async function findNextDay(fromDay) {
  const s = site();
  const tz = tzOf(s);
  if (fromDay < today()) fromDay = today();
  state.slotsLoading = true;
  state.slotsError = null;
  state.slots = [];
  render({ focus: document.activeElement?.id || null });
  try {
    const from = fromDay === dayIn(Date.now(), tz) ? new Date().toISOString() : startOfDay(fromDay, tz);
    const { slots, standby } = await fetchSlots(from, startOfDay(addDays(fromDay, SEARCH_AHEAD_DAYS), tz), 1);
    const first = slots[0];
    if (first) return loadDay(dayIn(first.starts_at, tz));
    state.day = fromDay;
    setPick(fromDay);
    state.noneAhead = true;
    state.standby = standby || null;
    if (state.standby && state.step === 'slot') switchStep('standby');
    else if (!state.standby && state.step === 'standby') switchStep('slot');
  } catch (e) {
    state.slotsError = e;
  }
  state.slotsLoading = false;
  render({ focus: null });
  announce(state.noneAhead ? t('slots.noneAhead', { days: SEARCH_AHEAD_DAYS }) : errorMessage(state.slotsError));
  return undefined;
}

// ---------------------------------------------------------------- step 2 bis: date range (draw)

function rangeView() {
  return html`
    ${flowStepper('range')}
    ${recapLine()}
    ${liveHoldPanel()}
    ${alertBlock()}
    <div class="fr-callout fr-mb-3w"><p class="fr-callout__text fr-text--md">${t('procedure.draw.explain')}</p></div>
    ${errorSummary()}
    <form data-form="range" novalidate>
      <p class="fr-hint-text">${t('range.hint')}</p>
      ${dateFields('from', 'range.from', 'range.from')}
      ${dateFields('to', 'range.to', 'range.to')}
      ${dateFields('permit_expires_on', 'range.permit', 'range.permit', { hintKey: 'range.permit.hint3', required: false })}
      <ul class="fr-btns-group fr-btns-group--inline-sm">
        <li><button class="fr-btn" type="submit">${t('continue')}</button></li>
        <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="back">${t('back')}</button></li>
      </ul>
    </form>`;
}

// ---------------------------------------------------------------- step 3: identity

function identityView() {
  const draw = isDraw();
  const a = state.applicant;
  const typeError = fieldError('applicant.document.type');
  // Only the documents this procedure accepts (R1: renewals take the AGDREF number alone).
  const p = procedure();
  const docTypes = (p && p.accepted_documents && p.accepted_documents.length) ? p.accepted_documents : ['agdref', 'passport', 'visa'];
  if (!docTypes.includes(a.docType)) a.docType = docTypes[0];
  return html`
    ${flowStepper('identity')}
    ${liveHoldPanel()}
    ${blockedNotice()}
    ${draw ? recapLine() : html`<p class="fr-text--sm fr-mb-2w" id="chosen-slot">${t('slots.selected', { when: state.slot ? slotLabel(state.slot) : '' })}
      <button type="button" class="fr-btn fr-btn--tertiary-no-outline fr-btn--sm fr-ml-1w" data-action="go-slot">${t('change')}</button></p>`}
    ${alertBlock()}
    ${errorSummary()}
    <p class="fr-text--sm">${t('identity.intro')}</p>
    <form data-form="identity" novalidate>
      <fieldset class="fr-fieldset ${typeError ? 'fr-fieldset--error' : ''}" id="${fieldId('applicant.document.type')}" aria-labelledby="doctype-legend ${fieldId('applicant.document.type')}-messages" tabindex="-1">
        <legend class="fr-fieldset__legend fr-fieldset__legend--regular" id="doctype-legend">${t('identity.docType')}</legend>
        ${docTypes.map((type) => html`<div class="fr-fieldset__element"><div class="fr-radio-group">
          <input type="radio" id="doctype-${type}" name="docType" value="${type}" data-model="applicant.docType" ${a.docType === type ? 'checked' : ''}>
          <label class="fr-label" for="doctype-${type}">${t(`identity.docType.${type}`)}</label></div></div>`)}
        <div class="fr-messages-group" id="${fieldId('applicant.document.type')}-messages" aria-live="polite">
          ${typeError ? html`<p class="fr-message fr-message--error">${typeError}</p>` : ''}</div>
      </fieldset>
      ${input('applicant.document.number', 'applicant.docNumber', 'identity.number', { hintKey: `identity.number.hint.${a.docType}`, inputmode: a.docType === 'agdref' ? 'numeric' : undefined, autocomplete: 'off' })}
      ${dateFields('applicant.birth_date', 'applicant.birth', 'identity.birth', { hintKey: 'identity.birth.hint3', birth: true })}
      ${input('applicant.family_name', 'applicant.familyName', 'identity.family', { hintKey: 'identity.family.hint', autocomplete: 'family-name' })}
      ${input('applicant.given_names', 'applicant.givenNames', 'identity.given', { autocomplete: 'given-name' })}
      ${input('applicant.email', 'applicant.email', 'identity.email', { type: 'email', hintKey: 'identity.email.hint', autocomplete: 'email' })}
      ${input('applicant.phone', 'applicant.phone', 'identity.phone', { type: 'tel', hintKey: 'identity.phone.hint', autocomplete: 'tel', required: false })}
      <ul class="fr-btns-group fr-btns-group--inline-sm">
        <li><button class="fr-btn" type="submit" id="identity-submit" ${state.busy ? 'disabled aria-busy="true"' : ''}>${needsCode() ? t('identity.submit.code') : draw ? t('identity.submit.request') : t('identity.submit')}</button></li>
        <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="${draw ? 'go-range' : 'go-slot'}">${t('back')}</button></li>
      </ul>
    </form>`;
}

// ---------------------------------------------------------------- the one-time code (R10)

const RESEND_SECONDS = 60;
function resendWait() { return state.verification ? RESEND_SECONDS - (Date.now() - state.verification.sentAt) / 1000 : 0; }

function codeView() {
  const v = state.verification;
  const error = fieldError('code');
  const where = v.kind === 'registry' ? t('code.sent.registry') : t('code.sent.contact', { email: state.applicant.email });
  const wait = resendWait();
  return html`
    ${flowStepper('code')}
    ${liveHoldPanel()}
    ${alertBlock()}
    ${errorSummary()}
    <p id="code-where">${where}</p>
    <p class="fr-text--sm">${t('code.validity', { time: formatTime(v.expires_at, tzOf(site())) })}</p>
    <form data-form="code" novalidate>
      <div class="fr-input-group ${error ? 'fr-input-group--error' : ''}">
        <label class="fr-label" for="f-code">${t('code.label')}<span class="fr-hint-text" id="f-code-hint">${t('code.hint')}</span></label>
        <input class="fr-input code-input ${error ? 'fr-input--error' : ''}" id="f-code" name="code" type="text" data-model="code"
          value="${state.code}" autocomplete="one-time-code" inputmode="numeric" maxlength="6" size="8" required aria-required="true"
          aria-describedby="f-code-hint f-code-messages" ${error ? html`aria-invalid="true"` : ''}>
        <div class="fr-messages-group" id="f-code-messages" aria-live="polite">
          ${error ? html`<p class="fr-message fr-message--error">${error}</p>` : ''}</div>
      </div>
      <ul class="fr-btns-group fr-btns-group--inline-sm">
        <li><button class="fr-btn" type="submit" id="code-submit" ${state.busy ? 'disabled aria-busy="true"' : ''}>${t('code.submit')}</button></li>
        <li><button class="fr-btn fr-btn--secondary" type="button" id="resend-code" data-action="resend-code" ${wait > 0 || state.busy ? 'disabled' : ''}>${wait > 0 ? t('code.resend.in', { time: formatClock(wait) }) : t('code.resend')}</button></li>
        <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="back">${t('back')}</button></li>
      </ul>
    </form>`;
}

/** Asks the API to send a code for the identity typed (to the registry's contact or to the
 * e-mail typed, as the procedure says); the answer is the same whether or not it is known. */
async function sendCode() {
  const v = await api.startVerification({ site_id: state.siteId, procedure_id: state.procedureId, applicant: applicantBody(state.applicant) });
  state.verification = { verification_id: v.verification_id, expires_at: v.expires_at, sentAt: Date.now(),
    identity: identityOf(state.applicant), kind: identityCheck() };
  state.code = '';
}

/** The proof of the code for this identity and procedure, while it is valid. */
function currentProof() {
  const p = state.proof;
  if (!p || !(Date.parse(p.expires_at) > Date.now() + 30000)) return null;
  return p.identity === identityOf(state.applicant) && p.siteId === state.siteId && p.procedureId === state.procedureId ? p : null;
}

/** A message for each way a code can be refused, in the page's language. */
function codeRefusal(e) {
  if (!(e instanceof ApiError)) return ['alert', errorMessage(e)];
  if (e.status === 422 && e.code === 'code_invalid') {
    const left = e.details.attempts_left ?? e.details.tries_left;
    return ['field', left != null ? ['code.wrong.left', { n: left }] : ['code.wrong']];
  }
  if (e.status === 422) return ['field', ['code.format']];
  if (e.status === 410 || e.status === 404) return ['alert', t('code.expired')];
  if (e.status === 429 && e.code === 'verification_locked') return ['alert', t('code.tooMany')];
  return ['alert', errorMessage(e)];
}

// ---------------------------------------------------------------- step 4: hold and confirm

function recapList(rows) {
  return html`<dl class="recap">${rows.filter(([, v]) => v).map(([k, v]) => html`<div><dt>${t(k)}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function countdownBlock(hold, expiredKey = 'hold.expired') {
  if (state.holdExpired) {
    return html`<div class="fr-alert fr-alert--warning fr-mb-3w" role="alert" id="hold-expired" tabindex="-1">
      <h2 class="fr-alert__title">${t('hold.expired.title')}</h2><p>${t(expiredKey)}</p></div>`;
  }
  const left = secondsLeft(hold);
  const tz = tzOf(site() || siteById(hold.slot && hold.slot.site_id));
  const deadline = left > 3600 ? formatDateTime(hold.expires_at, tz) : formatTime(hold.expires_at, tz);
  const urgent = left <= URGENT_SECONDS;
  return html`<div class="countdown fr-mb-3w ${urgent ? 'countdown--urgent' : ''}" id="countdown-box">
    <p class="fr-mb-0" id="countdown-deadline">${t('hold.deadline', { time: deadline })}</p>
    <p class="fr-mb-0" id="countdown-label">${urgent ? t('hold.urgent') : t('hold.remaining')}</p>
    <p class="countdown__clock" id="countdown" role="timer" aria-live="off" aria-labelledby="countdown-label"
      data-expires="${hold.expires_at}">${left > 3600 ? formatDuration(left) : formatClock(left)}</p>
  </div>`;
}

function holdView() {
  const hold = state.hold;
  const s = site();
  const p = procedure();
  const slot = hold.slot || state.slot;
  return html`
    ${flowStepper('confirm')}
    ${alertBlock()}
    ${state.holdExpired ? '' : html`<p>${t('hold.intro')}</p>`}
    ${countdownBlock(hold)}
    <h2 class="fr-h5">${t('recap.title')}</h2>
    ${recapList([
      ['recap.site', nameOf(s)], ['recap.address', s && s.address], ['recap.procedure', nameOf(p)],
      ['recap.when', slot && slotLabel(slot, s)],
      ['recap.name', `${state.applicant.familyName.toUpperCase()} ${state.applicant.givenNames}`],
      ['recap.document', t(`identity.docType.${state.applicant.docType}`)],
    ])}
    ${state.holdExpired
    ? html`${blockedNotice()}<a class="fr-btn fr-btn--secondary" href="#/" data-action="after-expiry">${t('back.home')}</a>`
    : html`<div class="fr-notice fr-notice--info fr-mb-3w"><div class="fr-container"><div class="fr-notice__body"><p class="fr-notice__title">${cooldownText(p) ? t('hold.release.warn.duration', { wait: cooldownText(p) }) : t('hold.release.warn')}</p></div></div></div>
      <ul class="fr-btns-group fr-btns-group--inline-sm">
        <li><button class="fr-btn" type="button" id="confirm" data-action="confirm-hold" ${state.busy ? 'disabled aria-busy="true"' : ''}>${t('hold.confirm')}</button></li>
        <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="release-hold" ${state.busy ? 'disabled' : ''}>${t('hold.release')}</button></li>
      </ul>`}`;
}

function secondsLeft(hold) {
  return (new Date(hold.expires_at).getTime() - Date.now()) / 1000;
}

const URGENT_SECONDS = 120;

/** One timer per screen: the hold's or offer's clock (a warning in its last two minutes, then the
 * lapse), the time left shown beside a live hold on other steps, and the code's resend delay. */
function startCountdown(hold) {
  let warned = hold ? secondsLeft(hold) <= URGENT_SECONDS : true;
  const tick = () => {
    for (const el of document.querySelectorAll('[data-deadline]')) {
      const left = (Date.parse(el.dataset.deadline) - Date.now()) / 1000;
      el.textContent = formatClock(left);
      if (left <= 0 && el.closest('#live-hold')) { state.hold = null; state.holdConflict = false; startBlock(); render(); return; }
    }
    const resend = document.getElementById('resend-code');
    if (resend && state.verification) {
      const wait = resendWait();
      const label = wait > 0 ? t('code.resend.in', { time: formatClock(wait) }) : t('code.resend');
      if (resend.textContent !== label) resend.textContent = label;
      if (resend.disabled !== (wait > 0 || state.busy)) resend.disabled = wait > 0 || state.busy;
    }
    const el = document.getElementById('countdown');
    if (!hold || !el) return;
    const left = secondsLeft(hold);
    el.textContent = left > 3600 ? formatDuration(left) : formatClock(left);
    if (!warned && left <= URGENT_SECONDS) {
      warned = true;
      document.getElementById('countdown-box')?.classList.add('countdown--urgent');
      const label = document.getElementById('countdown-label');
      if (label) label.textContent = t('hold.urgent');
      announce(t('hold.remaining.sr', { time: formatDuration(left) }));
    }
    if (left <= 0) {
      clearInterval(ticker);
      state.holdExpired = true;
      state.alert = null;
      if (!state.page) startBlock();
      render({ focus: 'hold-expired' });
    }
  };
  ticker = setInterval(tick, 250);
}

// ---------------------------------------------------------------- booking page

function statusBadge(status) {
  const kind = { booked: 'success', attended: 'success', cancelled: 'error', no_show: 'warning', offered: 'new', waiting: 'info' }[status] || 'info';
  return html`<p class="fr-badge fr-badge--${kind}" id="status">${DICTIONARIES[lang()][`status.${status}`] ? t(`status.${status}`) : status}</p>`;
}

function bookingView() {
  const page = state.page;
  const rec = store.booking(page.id);
  if (!rec) {
    if (state.alert) return unreachablePage('booking.title'); // a link the API refused, now forgotten
    return html`<h1 id="view-title" tabindex="-1">${t('booking.title')}</h1>
      <div class="fr-alert fr-alert--info fr-alert--sm fr-mb-3w"><p>${t('booking.missing')}</p></div>
      <ul class="fr-btns-group fr-btns-group--inline-sm"><li><a class="fr-btn" href="#/find">${t('find.link')}</a></li>
      <li><a class="fr-btn fr-btn--secondary" href="#/">${t('booking.new')}</a></li></ul>`;
  }
  if (!pageReady(page)) return pendingPage('booking.title');
  if (!page.data && !rec.reference) return unreachablePage('booking.title'); // e.g. an outdated link
  const b = { ...rec, ...(page.data || {}) };
  const slot = b.slot || rec.slot || {};
  const s = siteById(slot.site_id || rec.site_id);
  const p = procedureOf(s, slot.procedure_id || rec.procedure_id);
  const tz = tzOf(s);
  const who = b.applicant || b;
  const name = [who.family_name && String(who.family_name).toUpperCase(), who.given_names].filter(Boolean).join(' ');
  const docType = (b.applicant && b.applicant.document_type) || rec.document_type;
  const active = b.status !== 'cancelled';
  return html`
    <h1 id="view-title" tabindex="-1" class="no-print">${t('booking.title')}</h1>
    ${alertBlock()}
    ${page.justBooked ? html`<div class="fr-alert fr-alert--success fr-mb-3w no-print" role="status"><h2 class="fr-alert__title">${t('booking.confirmed')}</h2><p>${t('booking.keep')}</p></div>` : ''}
    ${page.fromLink ? html`<div class="fr-alert fr-alert--info fr-alert--sm fr-mb-3w no-print" id="from-link"><p>${t('link.opened')}</p></div>` : ''}
    <section class="convocation" aria-labelledby="convocation-title">
      <p class="print-only convocation__header">${t('app.title')} — ${nameOf(s)}</p>
      <h2 class="fr-h4" id="convocation-title">${t('booking.convocation')}</h2>
      <p class="reference"><span class="reference__label">${t('recap.reference')}</span>
        <span class="reference__value" id="reference">${b.reference || ''}</span></p>
      ${b.status ? statusBadge(b.status) : ''}
      ${recapList([
        ['recap.when', slot.starts_at && `${formatDateTime(slot.starts_at, tz)}${slot.ends_at ? ` – ${formatTime(slot.ends_at, tz)}` : ''}`],
        ['recap.site', nameOf(s)], ['recap.address', s && s.address], ['recap.procedure', nameOf(p)],
        ['recap.name', name], ['recap.document', docType && t(`identity.docType.${docType}`)],
      ])}
      ${active ? html`<p class="fr-text--sm">${t('booking.convocation.bring')}</p>` : ''}
    </section>
    <div class="no-print">
      ${active ? html`<ul class="fr-btns-group fr-btns-group--inline-sm fr-mt-3w">
        <li><button class="fr-btn" type="button" data-action="print">${t('booking.print')}</button></li>
        <li><button class="fr-btn fr-btn--secondary" type="button" data-action="open-cancel" id="open-cancel" aria-expanded="${page.cancelOpen ? 'true' : 'false'}" aria-controls="cancel-panel">${t('booking.cancel')}</button></li>
      </ul>
      ${page.cancelOpen ? html`<section class="cancel-panel fr-p-3w fr-mb-3w" id="cancel-panel" aria-labelledby="cancel-title">
        <h2 class="fr-h5" id="cancel-title" tabindex="-1">${t('booking.cancel.warn.title')}</h2>
        <p id="cancel-warning">${cooldownText(p) ? t('booking.cancel.warn.duration', { wait: cooldownText(p) }) : t('booking.cancel.warn')}</p>
        <ul class="fr-btns-group fr-btns-group--inline-sm">
          <li><button class="fr-btn btn-danger" type="button" data-action="cancel-booking" id="cancel-confirm" aria-describedby="cancel-warning" ${state.busy ? 'disabled aria-busy="true"' : ''}>${t('booking.cancel.confirm')}</button></li>
          <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="close-cancel">${t('booking.cancel.keep')}</button></li>
        </ul></section>` : ''}` : ''}
      <ul class="fr-btns-group fr-btns-group--inline-sm fr-mt-3w">
        <li><a class="fr-btn fr-btn--tertiary" href="#/" data-action="new-booking" id="booking-home">${active ? t('booking.new') : t('back.home')}</a></li>
        <li><button class="fr-btn fr-btn--tertiary-no-outline" type="button" data-action="forget-booking">${t('booking.forget')}</button></li>
      </ul>
    </div>`;
}

async function loadBooking(focus = 'title') {
  const page = state.page;
  const rec = store.booking(page.id);
  if (!rec) { render({ focus }); return; }
  page.loading = true;
  render({ focus });
  try {
    const data = await api.booking(rec.booking_id, rec.booking_token);
    page.data = data;
    if (data && data.status) {
      const slot = data.slot || {};
      store.saveBooking({ booking_id: rec.booking_id, status: data.status, reference: data.reference, slot,
        site_id: slot.site_id, procedure_id: slot.procedure_id, pending: false });
    }
  } catch (e) {
    // A link the API refuses is not kept: the home page must not offer it again.
    if (e instanceof ApiError && rec.pending && [401, 403, 404].includes(e.status)) store.forgetBooking(rec.booking_id);
    if (!(e instanceof ApiError && e.status === 0 && rec.reference)) setAlert('error', errorMessage(e));
  }
  page.loading = false;
  if (state.page === page) render({ focus: state.alert ? 'alert' : 'title' });
}

/** A booking or request page shows once both the item and the sites are known (either may
 * arrive first), or an error: never a convocation without its place and address. */
function pageReady(page) {
  const itemKnown = !page.loading && (page.data || state.alert);
  return Boolean(itemKnown && (state.sites || state.sitesError));
}

function unreachablePage(titleKey) {
  return html`<h1 id="view-title" tabindex="-1">${t(titleKey)}</h1>
    ${alertBlock()}
    <ul class="fr-btns-group fr-btns-group--inline-sm"><li><a class="fr-btn" href="#/find">${t('find.link')}</a></li>
    <li><a class="fr-btn fr-btn--secondary" href="#/">${t('booking.new')}</a></li></ul>`;
}

function pendingPage(titleKey) {
  return html`<h1 id="view-title" tabindex="-1">${t(titleKey)}</h1>
    ${alertBlock()}
    <p aria-busy="true" id="page-loading">${t('loading')}</p>`;
}

// ---------------------------------------------------------------- draw request page

function requestView() {
  const page = state.page;
  const rec = store.request(page.id);
  if (!rec) {
    return html`<h1 id="view-title" tabindex="-1">${t('request.title')}</h1>
      <div class="fr-alert fr-alert--info fr-alert--sm fr-mb-3w"><p>${t('request.missing')}</p></div>
      <a class="fr-btn" href="#/">${t('booking.new')}</a>`;
  }
  if (!pageReady(page)) return pendingPage('request.title');
  if (!page.data && !rec.site_id) return unreachablePage('request.title');
  const r = { ...rec, ...(page.data || {}) };
  const s = siteById(r.site_id);
  const p = procedureOf(s, r.procedure_id);
  const offer = page.offer;
  const open = !['withdrawn', 'booked', 'expired', 'cancelled'].includes(r.status);
  return html`
    <h1 id="view-title" tabindex="-1">${t('request.title')}</h1>
    ${alertBlock()}
    ${page.justFiled ? html`<div class="fr-alert fr-alert--success fr-mb-3w" role="status"><p>${t('request.filed')}</p></div>` : ''}
    ${page.fromLink ? html`<div class="fr-alert fr-alert--info fr-alert--sm fr-mb-3w" id="from-link"><p>${t('link.opened.request')}</p></div>` : ''}
    ${r.status ? statusBadge(r.status) : ''}
    ${recapList([
      ['recap.site', nameOf(s)], ['recap.procedure', nameOf(p)],
      ['request.period', r.from && r.to && `${formatDate(r.from)} – ${formatDate(r.to)}`],
    ])}
    ${offer ? html`<h2 class="fr-h5">${t('status.offered')}</h2><p>${t('request.offer')}</p>
      ${countdownBlock(offer, 'api.410')}
      ${recapList([['recap.when', offer.slot && slotLabel(offer.slot, s)], ['recap.address', s && s.address]])}
      ${state.holdExpired ? '' : html`<button class="fr-btn fr-mb-3w" type="button" id="confirm" data-action="confirm-offer" ${state.busy ? 'disabled aria-busy="true"' : ''}>${t('hold.confirm')}</button>`}`
    : open ? html`<p>${t('request.pending')}</p>` : ''}
    <ul class="fr-btns-group fr-btns-group--inline-sm fr-mt-3w">
      ${open ? html`<li><button class="fr-btn fr-btn--secondary" type="button" data-action="refresh-request">${t('request.refresh')}</button></li>
      <li><button class="fr-btn fr-btn--tertiary" type="button" data-action="withdraw-request">${t('request.withdraw')}</button></li>` : ''}
      <li><a class="fr-btn fr-btn--tertiary" href="#/" data-action="new-booking">${t('booking.new')}</a></li>
      <li><button class="fr-btn fr-btn--tertiary-no-outline" type="button" data-action="forget-request">${t('request.forget')}</button></li>
    </ul>`;
}

async function loadRequest(focus = 'title') {
  const page = state.page;
  const rec = store.request(page.id);
  if (!rec) { render({ focus }); return; }
  const first = !page.data;
  page.loading = first;
  render({ focus });
  try {
    const data = await api.request(rec.request_id, rec.request_token);
    page.data = data;
    const offer = data && data.hold && data.hold.hold_id ? data.hold : null;
    if (offer && (!page.offer || page.offer.hold_id !== offer.hold_id)) state.holdExpired = secondsLeft(offer) <= 0;
    page.offer = offer;
    store.saveRequest({ request_id: rec.request_id, status: data.status, site_id: data.site_id, procedure_id: data.procedure_id,
      from: data.from, to: data.to, pending: false });
  } catch (e) {
    if (e instanceof ApiError && rec.pending && [401, 403, 404].includes(e.status)) store.forgetRequest(rec.request_id);
    setAlert('error', errorMessage(e));
  }
  page.loading = false;
  if (state.page === page) render({ focus: state.alert ? 'alert' : (first ? 'title' : null) });
}

// ---------------------------------------------------------------- find my booking, footer pages

function findView() {
  const f = state.lookup;
  const typeError = fieldError('document.type');
  if (state.page.sent) {
    return html`<h1 id="view-title" tabindex="-1">${t('find.title')}</h1>
      <div class="fr-alert fr-alert--success fr-mb-3w" role="status" id="find-sent"><h2 class="fr-alert__title">${t('find.sent.title')}</h2><p>${t('find.sent')}</p></div>
      <a class="fr-btn fr-btn--secondary" href="#/">${t('back.home')}</a>`;
  }
  return html`<h1 id="view-title" tabindex="-1">${t('find.title')}</h1>
    <p>${t('find.intro')}</p>
    ${alertBlock()}
    ${errorSummary()}
    <form data-form="find" novalidate>
      <fieldset class="fr-fieldset ${typeError ? 'fr-fieldset--error' : ''}" id="${fieldId('document.type')}" aria-labelledby="find-doctype-legend" tabindex="-1">
        <legend class="fr-fieldset__legend fr-fieldset__legend--regular" id="find-doctype-legend">${t('identity.docType')}</legend>
        ${['agdref', 'passport', 'visa'].map((type) => html`<div class="fr-fieldset__element"><div class="fr-radio-group">
          <input type="radio" id="find-doctype-${type}" name="findDocType" value="${type}" data-model="lookup.docType" ${f.docType === type ? 'checked' : ''}>
          <label class="fr-label" for="find-doctype-${type}">${t(`identity.docType.${type}`)}</label></div></div>`)}
      </fieldset>
      ${input('document.number', 'lookup.docNumber', 'identity.number', { hintKey: `identity.number.hint.${f.docType}`, autocomplete: 'off' })}
      ${dateFields('birth_date', 'lookup.birth', 'identity.birth', { hintKey: 'identity.birth.hint3', birth: true })}
      ${input('email', 'lookup.email', 'find.email', { type: 'email', autocomplete: 'email' })}
      <ul class="fr-btns-group fr-btns-group--inline-sm">
        <li><button class="fr-btn" type="submit" id="find-submit" ${state.busy ? 'disabled aria-busy="true"' : ''}>${t('find.submit')}</button></li>
        <li><a class="fr-btn fr-btn--tertiary" href="#/" id="find-back">${t('back.home')}</a></li>
      </ul>
    </form>`;
}

function badLinkView() {
  return html`<h1 id="view-title" tabindex="-1">${t('link.bad.title')}</h1>
    <div class="fr-alert fr-alert--error fr-alert--sm fr-mb-3w" id="bad-link"><p>${t('link.bad')}</p></div>
    <ul class="fr-btns-group fr-btns-group--inline-sm"><li><a class="fr-btn" href="#/find">${t('find.link')}</a></li>
    <li><a class="fr-btn fr-btn--secondary" href="#/">${t('back.home')}</a></li></ul>`;
}

const INFO_PAGES = {
  accessibility: ['a11y.title', ['a11y.body', 'a11y.status', 'a11y.tech', 'a11y.contact']],
  legal: ['legal.title', ['legal.publisher', 'legal.purpose', 'legal.hosting']],
  'personal-data': ['data.title', ['data.what', 'data.why', 'data.how_long', 'data.rights']],
};

function infoView() {
  const [titleKey, sections] = INFO_PAGES[state.page.id];
  const days = state.retentionDays;
  return html`<h1 id="view-title" tabindex="-1">${t(titleKey)}</h1>
    ${sections.map((key) => {
    const titled = DICTIONARIES[lang()][`${key}.title`];
    const text = key === 'data.how_long' && !days ? '' : t(key, { days });
    return html`${titled ? html`<h2 class="fr-h5">${t(`${key}.title`)}</h2>` : ''}${text ? html`<p id="${key.replace(/\./g, '-')}">${text}</p>` : html`<p aria-busy="true">${t('loading')}</p>`}`;
  })}
    <a class="fr-btn fr-btn--secondary" href="#/">${t('back.home')}</a>`;
}

// ---------------------------------------------------------------- steps and browser history

/** Moves to a step of the flow and records it under its own address, so the browser's Back
 * button goes one step back and a reload shows the same step. */
function enterStep(step) {
  state.step = step;
  state.page = null;
  const hash = stepHash(step, state.siteId, state.procedureId);
  if (location.hash !== hash) history.pushState({ fairslotStep: step }, '', hash);
}

/** A step's address was opened (a reload, Back, Forward, a typed address): show it if what it
 * needs is known in this tab, else the furthest step that can be shown. */
function showStep(step, params) {
  state.page = null;
  if (params.get('site')) state.siteId = params.get('site');
  if (params.get('procedure')) state.procedureId = params.get('procedure');
  state.step = step;
  state.alert = null;
  state.fieldErrors = {};
  state.holdConflict = false;
  if (!state.sites) { render({ focus: null }); return; } // loadSites() settles the step
  settleStep();
}

function settleStep({ focus = 'title' } = {}) {
  let step = state.step;
  if (step !== 'site' && !(site() && procedure())) step = 'site';
  if (step === 'confirm' && !(state.hold && (liveHold() || state.holdExpired))) step = 'identity';
  if (step === 'code' && !(state.verification && Date.parse(state.verification.expires_at) > Date.now())) step = 'identity';
  if (step === 'range' && !isDraw()) step = 'slot';
  if (step === 'identity' && !isDraw() && !state.slot) step = 'slot';
  if ((step === 'slot' || step === 'standby') && procedure() && procedure().allocation === 'draw') step = 'range';
  if (step === 'slot' && state.standbyChosen && procedure().allocation === 'auto') state.standbyChosen = false;
  if (step !== state.step) history.replaceState({ fairslotStep: step }, '', stepHash(step, state.siteId, state.procedureId));
  state.step = step;
  render({ focus });
  if ((step === 'slot' || step === 'standby') && !state.slotsLoading) {
    if (step === 'slot' && state.day && state.day >= today()) loadDay(state.day);
    else findNextDay(today());
  }
}

// ---------------------------------------------------------------- actions

/** The booking or request is made: nothing of this flow stays in the tab. */
function endFlow() {
  state.hold = null;
  state.holdExpired = false;
  state.holdConflict = false;
  state.slot = null;
  state.verification = null;
  state.proof = null;
  state.code = '';
  state.standbyChosen = false;
  state.applicant = { ...state.applicant, docNumber: '', birthDate: '', birthDay: '', birthMonth: '', birthYear: '', familyName: '', givenNames: '', email: '', phone: '' };
}

/** The step before this one in the flow (the standby screen stands in for the slot list). */
function previousStep() {
  const order = stepOrder();
  const i = order.indexOf(state.step === 'standby' ? 'slot' : state.step);
  const prev = i > 0 ? order[i - 1] : 'site';
  return prev === 'slot' && state.standbyChosen ? 'standby' : prev;
}

function go(step) {
  state.alert = null;
  state.fieldErrors = {};
  enterStep(step);
  settleStep();
}

const actions = {
  'reload-sites': () => loadSites(),
  'join-standby': () => { state.standbyChosen = true; go('range'); },
  'go-site': () => go('site'),
  'go-slot': () => go('slot'),
  'go-range': () => go('range'),
  back: () => go(previousStep()),
  'reload-slots': () => (state.day && !state.noneAhead ? loadDay(state.day) : findNextDay(today())),
  'find-next': () => findNextDay(today()),
  'more-slots': () => loadDay(state.day, { append: true }),
  'day-prev': () => loadDay(addDays(state.day, -1)),
  'day-next': () => loadDay(addDays(state.day, 1)),
  'pick-slot': (el) => {
    state.slot = state.slots.find((x) => x.slot_id === el.dataset.slot);
    go('identity');
  },
  'confirm-hold': () => confirmHold(state.hold),
  'resend-code': async () => {
    if (resendWait() > 0 || state.busy) return;
    state.busy = true;
    state.alert = null;
    state.fieldErrors = {};
    render({ focus: 'resend-code' });
    try {
      await sendCode();
      setAlert('info', t('code.resent'));
    } catch (e) {
      setAlert('error', errorMessage(e));
    }
    state.busy = false;
    render({ focus: 'alert' });
  },
  'resume-hold': () => {
    state.holdConflict = false;
    state.alert = null;
    const slot = state.hold.slot;
    if (slot) {
      state.slot = slot;
      if (slot.site_id) state.siteId = slot.site_id;
      if (slot.procedure_id) state.procedureId = slot.procedure_id;
    }
    enterStep('confirm');
    render({ focus: 'title' });
  },
  'release-hold': async () => {
    const hold = state.hold;
    state.busy = true;
    render();
    try {
      await api.releaseHold(hold.hold_id, hold.hold_token);
      startBlock();
      setAlert('info', `${t('hold.released')} ${t('cooldown.until', { when: formatDateTime(state.blockedUntil, tzOf(site())) })}`);
    } catch (e) { setAlert('error', errorMessage(e)); }
    state.busy = false;
    state.hold = null;
    state.holdConflict = false;
    state.slot = null;
    enterStep('site');
    render({ focus: 'alert' });
  },
  'after-expiry': () => { state.hold = null; state.holdExpired = false; state.alert = null; },
  print: () => window.print(),
  'open-cancel': () => { state.page.cancelOpen = true; render({ focus: 'cancel-title' }); },
  'close-cancel': () => { state.page.cancelOpen = false; render({ focus: 'open-cancel' }); },
  'cancel-booking': async () => {
    const rec = store.booking(state.page.id);
    state.busy = true;
    render({ focus: 'cancel-confirm' });
    try {
      await api.cancelBooking(rec.booking_id, rec.booking_token);
      store.saveBooking({ booking_id: rec.booking_id, status: 'cancelled' });
      state.page.data = { ...(state.page.data || {}), status: 'cancelled' };
      state.page.cancelOpen = false;
      state.page.justBooked = false;
      startBlock(procedureOf(siteById(rec.site_id || (rec.slot && rec.slot.site_id)), rec.procedure_id || (rec.slot && rec.slot.procedure_id)));
      setAlert('info', `${t('booking.cancelled')} ${t('cooldown.until', { when: formatDateTime(state.blockedUntil, tzOf(siteById(rec.site_id))) })}`);
    } catch (e) {
      setAlert('error', errorMessage(e));
    }
    state.busy = false;
    render({ focus: 'alert' });
  },
  'forget-booking': () => { store.forgetBooking(state.page.id); location.hash = '#/'; },
  'new-booking': () => { /* the hashchange does the rest */ },
  'refresh-request': () => loadRequest(null),
  'forget-request': () => { store.forgetRequest(state.page.id); location.hash = '#/'; },
  'withdraw-request': async () => {
    const rec = store.request(state.page.id);
    try {
      await api.withdrawRequest(rec.request_id, rec.request_token);
      store.saveRequest({ request_id: rec.request_id, status: 'withdrawn' });
      state.page.data = { ...(state.page.data || {}), status: 'withdrawn' };
      state.page.offer = null;
      setAlert('success', t('request.withdrawn'));
    } catch (e) {
      setAlert('error', errorMessage(e));
    }
    render({ focus: 'alert' });
  },
  'confirm-offer': () => confirmHold(state.page.offer),
};

async function confirmHold(hold) {
  state.busy = true;
  state.alert = null;
  render({ focus: 'confirm' });
  try {
    const b = await api.book(hold.hold_id, hold.hold_token);
    const slot = b.slot || hold.slot || state.slot || {};
    store.saveBooking({
      booking_id: b.booking_id, booking_token: b.booking_token, reference: b.reference, status: b.status || 'booked',
      slot, site_id: slot.site_id || state.siteId, procedure_id: slot.procedure_id || state.procedureId,
      document_type: (b.applicant && b.applicant.document_type) || (state.applicant.docNumber ? state.applicant.docType : undefined),
    });
    if (state.page && state.page.kind === 'request') store.saveRequest({ request_id: state.page.id, status: 'booked' });
    state.busy = false;
    endFlow();
    pendingJustBooked = b.booking_id;
    location.hash = `#/booking/${encodeURIComponent(b.booking_id)}`;
  } catch (e) {
    state.busy = false;
    if (e instanceof ApiError && e.status === 410) {
      state.holdExpired = true;
      if (!state.page) startBlock();
      render({ focus: 'hold-expired' });
      return;
    }
    setAlert('error', errorMessage(e));
    render({ focus: 'alert' });
  }
}

let pendingJustBooked = null;

const forms = {
  site: () => {
    if (!site() || !procedure()) return;
    state.day = null;
    state.slots = [];
    state.noneAhead = false;
    go(isDraw() ? 'range' : 'slot');
  },
  day: () => {
    const day = state.pick.iso;
    const valid = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(day) && !Number.isNaN(Date.parse(`${day}T12:00:00Z`))
      && new Date(`${day}T12:00:00Z`).toISOString().slice(0, 10) === day;
    if (!valid) state.fieldErrors = { day: ['err.date'] };
    else if (day < today()) state.fieldErrors = { day: ['err.day.past', { today: formatDate(today()) }] };
    else { state.fieldErrors = {}; loadDay(day, { focus: 'day-show' }); return; }
    render({ focus: fieldId('day') });
  },
  range: () => {
    state.fieldErrors = validateRange(state.range, today());
    if (Object.keys(state.fieldErrors).length) { render({ focus: 'summary' }); return; }
    go('identity');
  },
  find: async () => {
    const f = state.lookup;
    const all = validateApplicant({ ...f, familyName: '-', givenNames: '-' });
    const rename = { 'applicant.document.type': 'document.type', 'applicant.document.number': 'document.number',
      'applicant.birth_date': 'birth_date', 'applicant.email': 'email' };
    state.fieldErrors = Object.fromEntries(Object.entries(all).filter(([k]) => rename[k]).map(([k, v]) => [rename[k], v]));
    state.alert = null;
    if (Object.keys(state.fieldErrors).length) { render({ focus: 'summary' }); return; }
    state.busy = true;
    render({ focus: 'find-submit' });
    try {
      const body = applicantBody({ ...f, familyName: '', givenNames: '' });
      const lookup = { document: body.document, birth_date: body.birth_date, email: body.email };
      // The identity this tab proved with a code (R10), if it is the one typed: bookings of
      // procedures that check identities are found only with it.
      const proof = state.proof && Date.parse(state.proof.expires_at) > Date.now() ? state.proof : null;
      if (proof && proof.identity === identityOf({ docType: f.docType, docNumber: f.docNumber, birthDate: f.birthDate })) lookup.identity_token = proof.token;
      await api.lookupBooking(lookup);
      state.page.sent = true;
      state.busy = false;
      render({ focus: 'title' });
    } catch (e) {
      state.busy = false;
      if (e instanceof ApiError && e.status === 422 && e.field) state.fieldErrors = { [e.field === 'document' ? 'document.number' : e.field]: ['raw', e.message] };
      else if (e instanceof ApiError && e.status === 429 && e.retryAfter != null) setAlert('error', t('find.429', { wait: formatDuration(e.retryAfter) }));
      else setAlert('error', errorMessage(e));
      render({ focus: Object.keys(state.fieldErrors).length ? 'summary' : 'alert' });
    }
  },
  identity: async () => {
    state.fieldErrors = validateApplicant(state.applicant);
    state.alert = null;
    state.holdConflict = false;
    if (Object.keys(state.fieldErrors).length) { render({ focus: 'summary' }); return; }
    state.busy = true;
    render({ focus: 'identity-submit' });
    try {
      if (needsCode() && !currentProof()) {
        await sendCode();
        state.busy = false;
        enterStep('code');
        render({ focus: 'title' });
        return;
      }
      await afterProof();
    } catch (e) {
      state.busy = false;
      await refused(e);
    }
  },
  code: async () => {
    const code = String(state.code || '').replace(/\s/g, '');
    state.alert = null;
    state.fieldErrors = !code ? { code: ['err.required'] } : /^[0-9]{6}$/.test(code) ? {} : { code: ['code.format'] };
    if (Object.keys(state.fieldErrors).length) { render({ focus: 'summary' }); return; }
    state.busy = true;
    render({ focus: 'code-submit' });
    let r;
    try {
      r = await api.checkCode(state.verification.verification_id, code);
    } catch (e) {
      state.busy = false;
      const [where, what] = codeRefusal(e);
      if (where === 'field') { state.fieldErrors = { code: what }; render({ focus: 'summary' }); return; }
      setAlert('error', what);
      render({ focus: 'alert' });
      return;
    }
    state.proof = { token: r.identity_token, expires_at: r.expires_at, destination: r.destination || '',
      identity: state.verification.identity, siteId: state.siteId, procedureId: state.procedureId };
    state.verification = null;
    state.code = '';
    setAlert('success', r.destination ? t('code.ok', { destination: r.destination }) : t('code.ok.nodest'));
    try {
      await afterProof();
    } catch (e) {
      state.busy = false;
      await refused(e);
    }
  },
};

/** The identity is proven (or need not be): hold the slot, or file the standby or draw request. */
async function afterProof() {
  const proof = currentProof();
  if (isDraw()) { await fileRequest(proof); return; }
  state.hold = await api.hold(state.slot.slot_id, applicantBody(state.applicant), proof && proof.token);
  state.hold.identity = identityOf(state.applicant);
  state.holdExpired = secondsLeft(state.hold) <= 0;
  state.busy = false;
  enterStep('confirm');
  render({ focus: 'title' });
  announce(t('hold.remaining.sr', { time: formatDuration(secondsLeft(state.hold)) }));
}

/** A hold or request refused, from the identity or the code step: say why where it can be fixed. */
async function refused(e) {
  if (e instanceof ApiError && e.status === 403 && e.code === 'identity_unverified') {
    // The procedure checks identities though the site list did not say so: ask for a code.
    state.checks[`${state.siteId}/${state.procedureId}`] = state.procedureId === 'renewal' ? 'registry' : 'contact';
    state.proof = null;
    try { await sendCode(); } catch (again) { setAlert('error', errorMessage(again)); render({ focus: 'alert' }); return; }
    enterStep('code');
    render({ focus: 'title' });
    return;
  }
  if (e instanceof ApiError && e.status === 409 && e.code === 'hold_already_active') {
    const mine = liveHold();
    if (mine && mine.identity === identityOf(state.applicant)) {
      state.holdConflict = true;
      render({ focus: 'live-hold' });
      return;
    }
    setAlert('error', t('hold.conflict.elsewhere'));
    render({ focus: 'alert' });
    return;
  }
  if (e instanceof ApiError && e.status === 422 && applyServerFieldError(e)) {
    if (state.step !== 'identity') enterStep('identity');
    render({ focus: 'summary' });
    return;
  }
  if (e instanceof ApiError && !isDraw() && ((e.status === 409 && !/identity|already|active/.test(e.code)) || e.status === 404)) {
    // The slot went to someone else meanwhile: back to the list, keep what was typed.
    setAlert('error', errorMessage(e, 'slot'));
    enterStep('slot');
    state.slot = null;
    await loadDay(state.day || today(), { focus: 'alert' });
    return;
  }
  if (e instanceof ApiError && e.code === 'draw_only') loadSites(); // the policy changed meanwhile
  setAlert('error', errorMessage(e));
  render({ focus: 'alert' });
}

async function fileRequest(proof) {
  const body = {
    site_id: state.siteId, procedure_id: state.procedureId, applicant: applicantBody(state.applicant),
    from: state.range.from, to: state.range.to, // the days themselves: the API counts `to` in
  };
  if (proof) body.identity_token = proof.token;
  if (state.range.permitExpiresOn) body.permit_expires_on = state.range.permitExpiresOn;
  const r = await api.fileRequest(body);
  store.saveRequest({
    request_id: r.request_id, request_token: r.request_token, status: r.status, site_id: state.siteId,
    procedure_id: state.procedureId, from: state.range.from, to: state.range.to,
  });
  state.busy = false;
  endFlow();
  pendingJustFiled = r.request_id;
  location.hash = `#/request/${encodeURIComponent(r.request_id)}`;
}
let pendingJustFiled = null;

// ---------------------------------------------------------------- routing and events

/** An e-mail's link: #/booking/<id>/<token> or #/request/<id>/<token>. The token is kept on this
 * device like one made here, then dropped from the address (history, screen, screenshots). */
function takeLinkToken() {
  const m = location.hash.match(LINK);
  if (!m) return null;
  const id = m[2];
  // Kept as pending: only once the API has opened it is it offered again from the home page.
  if (m[1] === 'booking') store.saveBooking({ booking_id: id, booking_token: m[3], pending: !store.booking(id) || store.booking(id).pending });
  else store.saveRequest({ request_id: id, request_token: m[3], pending: !store.request(id) || store.request(id).pending });
  history.replaceState(null, '', `#/${m[1]}/${encodeURIComponent(id)}`);
  return id;
}

/** The shape of the links the API writes in its e-mails (ids from new_id, tokens from new_token). */
const LINK = /^#\/(booking|request)\/((?:bkg|req)_[0-9a-f]{24})\/([A-Za-z0-9_-]{43})$/;

/** An address with a token that is not a link's shape (cut, altered): refused, nothing stored. */
function malformedLink() {
  return /^#\/(booking|request)\/[^/]*\/./.test(location.hash) && !LINK.test(location.hash);
}

function route() {
  clearInterval(poller);
  if (malformedLink()) {
    history.replaceState(null, '', '#/badlink');
    state.page = { kind: 'badlink', id: 'badlink' };
    render({ focus: 'title' });
    return;
  }
  const fromLink = takeLinkToken();
  const info = location.hash.match(/^#\/(find|accessibility|legal|personal-data)$/);
  if (info) {
    state.alert = null;
    state.fieldErrors = {};
    state.busy = false;
    state.page = info[1] === 'find' ? { kind: 'find', id: 'find' } : { kind: 'info', id: info[1] };
    render({ focus: 'title' });
    return;
  }
  const m = location.hash.match(/^#\/(booking|request)\/(.+)$/);
  if (m) {
    const id = decodeURIComponent(m[2]);
    state.alert = null;
    state.fieldErrors = {};
    state.holdExpired = false;
    state.page = { kind: m[1], id, justBooked: pendingJustBooked === id, justFiled: pendingJustFiled === id, fromLink: fromLink === id };
    pendingJustBooked = null;
    pendingJustFiled = null;
    if (m[1] === 'booking') loadBooking();
    else {
      loadRequest();
      // An offer can appear at any draw: look again now and then while the page is visible.
      poller = setInterval(() => { if (!document.hidden && state.page && !state.busy && !state.page.offer) loadRequest(null); }, 30000);
    }
    return;
  }
  const step = parseStepHash(location.hash);
  if (step) { showStep(step.step, step.params); return; }
  if (location.hash === '#/badlink') { state.page = { kind: 'badlink', id: 'badlink' }; render({ focus: 'title' }); return; }
  history.replaceState({ fairslotStep: 'site' }, '', '#/');
  showStep('site', new URLSearchParams());
}

/** Where the three fields of each date write their ISO value. */
const DATE_TARGETS = { birth: 'birthDate', permit: 'permitExpiresOn', from: 'from', to: 'to', day: 'iso' };

function pathOf(el) {
  if (el.name === 'docType') return 'applicant.document.type';
  if (el.name === 'findDocType') return 'document.type';
  return el.name.replace(/\.(day|month|year)$/, '');
}

/** Whether the value now typed in a field that showed an error still breaks its rule. */
function stillWrong(path) {
  if (path === 'code') return !/^[0-9]{6}$/.test(String(state.code || '').replace(/\s/g, ''));
  if (path === 'day') return !/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(state.pick.iso) || state.pick.iso < today();
  if (path.startsWith('applicant.')) return Boolean(validateApplicant(state.applicant)[path]);
  if (['from', 'to', 'permit_expires_on'].includes(path)) return Boolean(validateRange(state.range, today())[path]);
  return Boolean(validateApplicant({ ...state.lookup, familyName: '-', givenNames: '-' })[`applicant.${path}`]);
}

/** An error goes away as soon as its field is corrected: under the field and in the summary. */
function recheck(el) {
  const path = pathOf(el);
  if (!state.fieldErrors[path] || stillWrong(path)) return;
  delete state.fieldErrors[path];
  const id = fieldId(path);
  const messages = document.getElementById(`${id}-messages`);
  if (messages) messages.textContent = '';
  for (const field of document.querySelectorAll(`[aria-describedby~="${id}-messages"]`)) {
    field.removeAttribute('aria-invalid');
    field.classList.remove('fr-input--error');
    field.closest('.fr-input-group')?.classList.remove('fr-input-group--error');
  }
  for (const group of document.querySelectorAll(`#${id}-fieldset .fr-input-group--error, #${id}-fieldset .fr-input--error`)) {
    group.classList.remove('fr-input-group--error', 'fr-input--error');
  }
  document.getElementById(`${id}-fieldset`)?.classList.remove('fr-fieldset--error');
  document.getElementById(id)?.classList.remove('fr-fieldset--error');
  document.querySelector(`#error-summary [data-focus="${id}"]`)?.closest('li')?.remove();
  const summary = document.getElementById('error-summary');
  const left = Object.keys(state.fieldErrors).length;
  if (summary && !left) summary.remove();
  else if (summary) summary.querySelector('.fr-alert__title').textContent = tn('identity.summary', left);
}

function onInput(event) {
  const el = event.target;
  const model = el.dataset && el.dataset.model;
  if (!model) return;
  const [a, b] = model.split('.');
  if (b) state[a][b] = el.value; else state[a] = el.value;
  if (b && /^(birth|permit|from|to|day)(Day|Month|Year)$/.test(b)) {
    const prefix = b.replace(/(Day|Month|Year)$/, '');
    state[a][DATE_TARGETS[prefix]] = datePartsIso(state[a][`${prefix}Day`], state[a][`${prefix}Month`], state[a][`${prefix}Year`]);
    recheck(el);
    saveFlow(state);
    return;
  }
  recheck(el);
  saveFlow(state);
  if (model === 'siteId' || model === 'procedureId') state.standbyChosen = false;
  if (model === 'siteId') {
    const s = site();
    if (!s || !(s.procedures || []).some((p) => p.procedure_id === state.procedureId)) state.procedureId = s && s.procedures && s.procedures.length === 1 ? s.procedures[0].procedure_id : '';
    state.day = null;
    render({ focus: 'site' });
  } else if (model === 'procedureId') {
    state.day = null;
    render({ focus: 'procedure' });
  } else if (model === 'lookup.docType') {
    render({ focus: el.id });
  } else if (model === 'applicant.docType') {
    const hint = document.getElementById(`${fieldId('applicant.document.number')}-hint`);
    if (hint) hint.textContent = t(`identity.number.hint.${el.value}`);
    const number = document.getElementById(fieldId('applicant.document.number'));
    if (number) { if (el.value === 'agdref') number.setAttribute('inputmode', 'numeric'); else number.removeAttribute('inputmode'); }
  }
}

function start() {
  const flow = loadFlow();
  for (const [k, v] of Object.entries(flow)) {
    if (v === null || v === undefined) continue;
    state[k] = ['applicant', 'range', 'checks'].includes(k) ? { ...state[k], ...v } : v;
  }
  const saved = store.lang();
  const fromQuery = new URLSearchParams(location.search).get('lang');
  setLang(fromQuery || saved || 'fr');
  const root = app();
  root.addEventListener('click', (event) => {
    const focusLink = event.target.closest('[data-focus]');
    if (focusLink) { event.preventDefault(); document.getElementById(focusLink.dataset.focus)?.focus(); return; }
    const el = event.target.closest('[data-action]');
    if (!el || el.disabled) return;
    const action = actions[el.dataset.action];
    if (!action) return;
    if (el.tagName !== 'A') event.preventDefault();
    action(el);
  });
  root.addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target.closest('[data-form]');
    if (form && forms[form.dataset.form]) forms[form.dataset.form](form);
  });
  root.addEventListener('change', onInput);
  root.addEventListener('input', (event) => { if (event.target.tagName === 'INPUT' && event.target.type !== 'radio') onInput(event); });
  document.getElementById('lang-switch').addEventListener('click', () => {
    setLang(lang() === 'fr' ? 'en' : 'fr');
    store.setLang(lang());
    render({ focus: 'lang-switch' });
    announce(t('app.title'));
  });
  window.addEventListener('hashchange', route);
  if (!location.hash) history.replaceState({ fairslotStep: 'site' }, '', '#/');
  route();
  loadSites();
}

start();
