// Dates, times and durations: shown in the site's own time zone, in the user's language.
import { lang, t } from './i18n.js';

const locale = () => (lang() === 'fr' ? 'fr-FR' : 'en-GB');

export function formatDay(isoDay, timeZone = 'UTC') {
  // isoDay is a calendar date; format it at noon UTC so no time zone can shift the day.
  const d = new Date(`${isoDay}T12:00:00Z`);
  return new Intl.DateTimeFormat(locale(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d);
}

export function formatTime(instant, timeZone) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', timeZone }).format(new Date(instant));
}

export function formatDateTime(instant, timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone,
  }).format(new Date(instant));
}

export function formatDate(isoDay) {
  if (!isoDay) return '';
  return new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })
    .format(new Date(`${isoDay.slice(0, 10)}T12:00:00Z`));
}

/** The calendar day (YYYY-MM-DD) an instant falls on in timeZone. */
export function dayIn(instant, timeZone) {
  const parts = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone })
    .formatToParts(new Date(instant));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function addDays(isoDay, n) {
  const d = new Date(`${isoDay}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The UTC offset ("+01:00") of timeZone at a given instant. */
function offsetAt(instant, timeZone) {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(instant)).find((p) => p.type === 'timeZoneName').value;
    const m = name.match(/GMT([+-]\d{2}):?(\d{2})?/);
    return m ? `${m[1]}:${m[2] || '00'}` : '+00:00';
  } catch {
    return '+00:00';
  }
}

/** Midnight starting isoDay in timeZone, as RFC 3339 with that zone's offset. */
export function startOfDay(isoDay, timeZone) {
  // The offset at local noon is the day's offset except on DST days, where midnight is what counts;
  // check the offset at the resulting instant once more.
  let offset = offsetAt(`${isoDay}T12:00:00Z`, timeZone);
  const again = offsetAt(`${isoDay}T00:00:00${offset}`, timeZone);
  if (again !== offset) offset = again;
  return `${isoDay}T00:00:00${offset}`;
}

/** Seconds as words: "2 heures et 5 minutes", "45 seconds". Two largest units, rounded up. */
export function formatDuration(totalSeconds) {
  let s = Math.max(0, Math.ceil(Number(totalSeconds) || 0));
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  if (s >= 3600) s = Math.ceil(s / 60) * 60; // seconds are noise beyond an hour
  const parts = [];
  for (const [unit, size] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(new Intl.NumberFormat(locale(), { style: 'unit', unit, unitDisplay: 'long' }).format(n));
    }
    if (parts.length === 2) break;
  }
  if (!parts.length) parts.push(new Intl.NumberFormat(locale(), { style: 'unit', unit: 'second', unitDisplay: 'long' }).format(0));
  return parts.join(` ${t('time.and')} `);
}

/** mm:ss (or h:mm:ss) for a visible countdown. */
export function formatClock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${String(m).padStart(2, '0')}:${sec}`;
}
