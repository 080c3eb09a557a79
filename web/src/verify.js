// Draw verification (draws.html): lists a site's draws from the public API and replays a chosen
// one in the browser with WebCrypto, as docs/draws.md describes, offer by offer.
const api = String(window.FAIRSLOT_API || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const enc = new TextEncoder();

const hexToBytes = (hex) => {
  if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new Error('not hexadecimal');
  return Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));
};
const bytesToHex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256Hex(bytes) {
  return bytesToHex(await crypto.subtle.digest('SHA-256', bytes));
}

/** SHA-256 of one UTF-8 line per entrant, in the record's order (docs/draws.md, "The entrants' hash"). */
export async function entrantsDigest(entrants) {
  const lines = entrants.map((e) => [e.request_id, e.entrant_tag || '', String(e.tier), e.first_day, e.last_day,
    e.partner ? '1' : '0', (e.excluded_slots || []).join(',')].join('|') + '\n');
  return sha256Hex(enc.encode(lines.join('')));
}

const ticket = (e) => e.entrant_tag || e.request_id;
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The allocation the seed decides over the entrants and slots: [[request_id, slot_id], ...]. */
export async function replay(entrants, slots, seedHex) {
  const key = await crypto.subtle.importKey('raw', hexToBytes(seedHex), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const number = async (label) => BigInt(`0x${bytesToHex(await crypto.subtle.sign('HMAC', key, enc.encode(label)))}`);
  const keyed = await Promise.all(entrants.map(async (e) => ({ e, n: await number(`order|${ticket(e)}`) })));
  keyed.sort((a, b) => (a.e.tier - b.e.tier) || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0) || cmp(ticket(a.e), ticket(b.e)));
  const free = [...slots].sort((a, b) => cmp(a.slot_id, b.slot_id));
  const taken = new Set();
  const pairs = [];
  for (const { e } of keyed) {
    const excluded = new Set(e.excluded_slots || []);
    const candidates = free.filter((s) => !taken.has(s.slot_id) && !excluded.has(s.slot_id)
      && e.first_day <= s.day && s.day <= e.last_day && (e.partner || !s.reserved));
    if (!candidates.length) continue;
    const pick = candidates[Number((await number(`slot|${ticket(e)}`)) % BigInt(candidates.length))];
    taken.add(pick.slot_id);
    pairs.push([e.request_id, pick.slot_id]);
  }
  return pairs;
}

/** Every check of a draw's record: {commitment, entrants, offers: [{request_id, slot_id, ok}], extra, ok}. */
export async function verify(record) {
  const commitment = await sha256Hex(hexToBytes(record.seed)) === record.seed_hash;
  const entrants = record.entrants_hash ? (await entrantsDigest(record.entrants)) === record.entrants_hash : null;
  const replayed = await replay(record.entrants, record.slots, record.seed);
  const expected = new Map(replayed.map(([r, s]) => [r, s]));
  const offers = record.allocation.map(([requestId, slotId]) => ({ request_id: requestId, slot_id: slotId,
    ok: commitment && entrants !== false && expected.get(requestId) === slotId }));
  const recorded = new Set(record.allocation.map(([r]) => r));
  const missing = replayed.filter(([r]) => !recorded.has(r));
  const ok = commitment && entrants !== false && offers.every((o) => o.ok) && !missing.length
    && replayed.length === record.allocation.length;
  return { commitment, entrants, offers, missing, ok };
}

// ---------------------------------------------------------------- the page

async function getJson(path) {
  const res = await fetch(api + path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

async function readRecord(siteId, procedureId, draw) {
  const record = { ...draw };
  for (const part of ['entrants', 'slots', 'allocation']) {
    record[part] = [];
    let cursor = null;
    do {
      const query = `part=${part}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await getJson(`/sites/${encodeURIComponent(siteId)}/procedures/${encodeURIComponent(procedureId)}/draws/${encodeURIComponent(draw.draw_id)}/record?${query}`);
      record[part].push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
  }
  return record;
}

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
};
const mark = (ok) => (ok ? '✔ conforme' : '✘ non conforme');

function showResult(target, draw, result) {
  target.replaceChildren();
  const verdict = el('div', { class: `fr-alert fr-alert--${result.ok ? 'success' : 'error'} fr-mb-2w`, id: 'verdict', 'data-ok': String(result.ok) },
    el('h3', { class: 'fr-alert__title' }, result.ok
      ? `Tirage ${draw.draw_id} vérifié : chaque offre découle de la graine, de l’engagement et des inscrits.`
      : `Tirage ${draw.draw_id} rejeté : le registre publié ne correspond pas au tirage.`));
  const checks = el('ul', { id: 'checks' },
    el('li', {}, `Engagement (SHA-256 de la graine = empreinte publiée avant le tirage) : ${mark(result.commitment)}`),
    el('li', {}, result.entrants === null ? 'Empreinte des inscrits : non publiée (tirage ancien)'
      : `Empreinte des inscrits (${draw.entrants.length}) : ${mark(result.entrants)}`));
  const table = el('table', {}, el('caption', {}, 'Offres du tirage, rejouées'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Demande'), el('th', { scope: 'col' }, 'Créneau'), el('th', { scope: 'col' }, 'Vérification'))));
  const body = el('tbody');
  for (const o of result.offers) {
    body.append(el('tr', { 'data-ok': String(o.ok) }, el('td', {}, o.request_id), el('td', {}, o.slot_id), el('td', {}, mark(o.ok))));
  }
  for (const [r, s] of result.missing) body.append(el('tr', { 'data-ok': 'false' }, el('td', {}, r), el('td', {}, s), el('td', {}, '✘ offre absente du registre')));
  table.append(body);
  target.append(verdict, checks, el('div', { class: 'fr-table' }, table));
  if (draw.early_reason) target.append(el('p', {}, `Tirage lancé avant l’intervalle par l’administration, motif publié : « ${draw.early_reason} »`));
}

async function showDraws(siteId, procedureId) {
  const list = document.getElementById('draws');
  const result = document.getElementById('result');
  list.replaceChildren();
  result.replaceChildren();
  const { draws } = await getJson(`/sites/${encodeURIComponent(siteId)}/procedures/${encodeURIComponent(procedureId)}/draws?limit=50`);
  const done = draws.filter((d) => d.seed);
  if (!done.length) { list.append(el('p', {}, 'Aucun tirage effectué pour cette démarche.')); return; }
  const ul = el('ul', { class: 'draw-list' });
  for (const draw of done) {
    const button = el('button', { type: 'button', class: 'fr-btn fr-btn--sm fr-btn--secondary', 'data-draw': draw.draw_id }, 'Vérifier');
    button.addEventListener('click', async () => {
      result.replaceChildren(el('p', { role: 'status' }, 'Vérification en cours…'));
      try {
        const record = await readRecord(siteId, procedureId, draw);
        showResult(result, record, await verify(record));
      } catch (err) {
        showResult(result, draw, { ok: false, commitment: false, entrants: false, offers: [], missing: [] });
        result.append(el('p', {}, `Erreur : ${err.message}`));
      }
      document.getElementById('result-title').focus();
    });
    ul.append(el('li', {}, `${draw.run_at || draw.committed_at} — ${draw.entrants} inscrits, ${draw.slots} créneaux, ${draw.allocated} offres `, button));
  }
  list.append(ul);
}

async function start() {
  const siteSelect = document.getElementById('site');
  const procedureSelect = document.getElementById('procedure');
  const { sites } = await getJson('/sites');
  for (const s of sites) siteSelect.append(el('option', { value: s.site_id }, s.name));
  const wanted = new URLSearchParams(location.search);
  if (wanted.get('site')) siteSelect.value = wanted.get('site');
  const fillProcedures = () => {
    const site = sites.find((s) => s.site_id === siteSelect.value) || sites[0];
    procedureSelect.replaceChildren(...(site ? site.procedures : []).map((p) => el('option', { value: p.procedure_id }, p.name)));
    if (wanted.get('procedure')) procedureSelect.value = wanted.get('procedure');
  };
  fillProcedures();
  siteSelect.addEventListener('change', fillProcedures);
  document.getElementById('choose').addEventListener('submit', (event) => {
    event.preventDefault();
    showDraws(siteSelect.value, procedureSelect.value).catch((err) => {
      document.getElementById('draws').replaceChildren(el('p', {}, `Erreur : ${err.message}`));
    });
  });
  document.body.dataset.verify = 'ready';
}

if (typeof document !== 'undefined' && document.getElementById('choose')) start();
