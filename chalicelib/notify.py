"""E-mail notifications (French and English): confirmation, cancellation, slot closure, reminder,
draw offer. Sent from the bookings stream (never on the booking path) through SES in AWS, or
written as .eml files under OUTBOX_DIR locally.

For the draw: call `offer_made(email, site_id, starts_at, expires_at, reference=None)` once an
offer is committed; it renders and sends the same way (and raises if sending failed, so a stream
or scheduled caller is retried).
"""
import os
import threading
from datetime import datetime, timezone

from chalicelib.config import settings
from chalicelib.observability import logger, metric

_ses = None
_ses_lock = threading.Lock()

# --- what to send --------------------------------------------------------------------------------

CONFIRMATION, CANCELLATION, CLOSURE, REMINDER, OFFER = "confirmation", "cancellation", "closure", "reminder", "offer"


def kind_of_change(event_name, old, new):
    """Which message a bookings stream record calls for, or None (pure: plain dict images)."""
    old, new = old or {}, new or {}
    if event_name == "INSERT" and new.get("status") == "booked":
        return CONFIRMATION
    if event_name != "MODIFY":
        return None
    if old.get("status") == "booked" and new.get("status") == "cancelled":
        return CANCELLATION
    if old.get("status") == "booked" and new.get("status") == "closed":
        return CLOSURE
    if not old.get("reminded_at") and new.get("reminded_at") and new.get("status") == "booked":
        return REMINDER
    return None


def _local_time(starts_at, tz_name):
    from zoneinfo import ZoneInfo

    when = datetime.fromisoformat(starts_at.replace("Z", "+00:00")).astimezone(ZoneInfo(tz_name or "Europe/Paris"))
    return when.strftime("%d/%m/%Y %H:%M"), when.strftime("%Y-%m-%d %H:%M")


_TEXTS = {
    CONFIRMATION: (
        "Confirmation de votre rendez-vous / Appointment confirmed",
        "Votre rendez-vous est confirmé le {fr} ({site}). Référence : {reference}.\n"
        "Présentez le même document d'identité au guichet : un autre document fait refuser le rendez-vous.",
        "Your appointment is confirmed for {en} ({site}). Reference: {reference}.\n"
        "Bring the same identity document to the counter: another document means the appointment is refused.",
    ),
    CANCELLATION: (
        "Annulation de votre rendez-vous / Appointment cancelled",
        "Votre rendez-vous du {fr} ({site}), référence {reference}, est annulé.",
        "Your appointment of {en} ({site}), reference {reference}, is cancelled.",
    ),
    CLOSURE: (
        "Rendez-vous annulé par la préfecture / Appointment cancelled by the prefecture",
        "La préfecture a fermé le créneau du {fr} ({site}), référence {reference}. "
        "Vous pouvez réserver un autre rendez-vous sans délai d'attente.",
        "The prefecture closed the slot of {en} ({site}), reference {reference}. "
        "You may book another appointment with no waiting period.",
    ),
    REMINDER: (
        "Rappel : rendez-vous demain / Reminder: appointment tomorrow",
        "Rappel : rendez-vous le {fr} ({site}), référence {reference}. Apportez votre document d'identité.",
        "Reminder: appointment on {en} ({site}), reference {reference}. Bring your identity document.",
    ),
    OFFER: (
        "Un créneau vous est proposé / A slot is offered to you",
        "Le tirage au sort vous propose un rendez-vous le {fr} ({site}). Confirmez-le avant le {expires_fr}, "
        "sinon il sera proposé à quelqu'un d'autre.",
        "The draw offers you an appointment on {en} ({site}). Confirm it before {expires_en}, "
        "or it goes to someone else.",
    ),
}


def render(kind, to, site_name, tz_name, starts_at, reference=None, expires_at=None, message_id=None):
    """The bilingual message (French first) as an EmailMessage."""
    from email.message import EmailMessage  # not at import: it costs every cold start
    from email.utils import make_msgid

    subject, french, english = _TEXTS[kind]
    fr, en = _local_time(starts_at, tz_name)
    expires_fr, expires_en = _local_time(expires_at, tz_name) if expires_at else ("", "")
    values = {"fr": fr, "en": en, "site": site_name, "reference": reference or "", "expires_fr": expires_fr,
              "expires_en": expires_en}
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="fairslot")
    message["Content-Language"] = "fr, en"
    message.set_content(french.format(**values) + "\n\n---\n\n" + english.format(**values) + "\n")
    return message


# --- how it is sent ------------------------------------------------------------------------------


def _ses_client():
    global _ses
    if _ses is None:
        with _ses_lock:
            if _ses is None:
                import boto3

                _ses = boto3.client("sesv2", region_name=settings.region)
    return _ses


def send(message, name):
    """Send one message: an .eml file under OUTBOX_DIR when set (local), SES otherwise. Raises on
    failure (the stream retries the record)."""
    if settings.outbox_dir:
        os.makedirs(settings.outbox_dir, exist_ok=True)
        path = os.path.join(settings.outbox_dir, f"{name}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(bytes(message))
        os.replace(tmp, path)  # whole files only: a reader never sees half a message
        return path
    _ses_client().send_email(
        FromEmailAddress=message["From"],
        Destination={"ToAddresses": [message["To"]]},
        Content={"Raw": {"Data": bytes(message)}},
    )
    return None


# --- the stream handler's work -------------------------------------------------------------------


def _plain(value):
    """A DynamoDB-JSON attribute value as plain Python (the few types bookings use)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (kind, raw), = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return float(raw)
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _plain(v) for k, v in raw.items()}
    return None


def plain_image(image):
    return {k: _plain(v) for k, v in (image or {}).items()}


def booking_changed(event_name, old_image, new_image, sequence="0"):
    """One bookings stream record: send what it calls for. Raises if sending failed, so the
    record is retried (the booking itself is already safely stored)."""
    old, new = plain_image(old_image), plain_image(new_image)
    kind = kind_of_change(event_name, old, new)
    if kind is None:
        return None
    email = ((new.get("applicant") or {}).get("email"))
    if not email:
        return None
    from chalicelib import catalog

    try:
        site = catalog.site(new["site_id"])
        site_name, tz_name = site.name, site.timezone
    except Exception:  # noqa: BLE001 -- an unknown site still gets its message
        site_name, tz_name = new.get("site_id", ""), "Europe/Paris"
    # The same record always yields the same file / message id: a retried record overwrites.
    name = f"{new['booking_id']}-{kind}"
    message = render(kind, email, site_name, tz_name, new["starts_at"], reference=new.get("reference"),
                     message_id=f"<{name}.{sequence}@fairslot>")
    try:
        send(message, name)
    except Exception:
        metric("NotificationFailed")
        logger().warning("notification not sent", extra={"kind": kind, "booking_id": new["booking_id"]})
        raise
    metric("NotificationSent")
    return kind


def offer_made(email, site_id, starts_at, expires_at, reference=None, offer_id=None):
    """The draw's offer e-mail (expires_at: epoch seconds or RFC 3339)."""
    import secrets

    from chalicelib import catalog
    from chalicelib.clock import to_rfc3339

    site = catalog.site(site_id)
    expires = to_rfc3339(expires_at) if isinstance(expires_at, (int, float)) else expires_at
    name = f"{offer_id or 'offer_' + secrets.token_hex(12)}-offer"
    send(render(OFFER, email, site.name, site.timezone, starts_at, reference, expires), name)
    metric("NotificationSent")


# --- reminders -----------------------------------------------------------------------------------


def remind_tomorrow(now):
    """Mark tomorrow's bookings (local date of each site) as reminded, each once: the stream then
    sends the reminder. Returns how many were marked by this run."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from chalicelib import catalog, storage_staff

    marked = 0
    for site in catalog.sites():
        tomorrow = (datetime.fromtimestamp(now, timezone.utc).astimezone(ZoneInfo(site.timezone)).date()
                    + timedelta(days=settings.reminder_lead_days))
        for booking in storage_staff.bookings_of_day(site.sk, tomorrow.isoformat()):
            if storage_staff.mark_reminded_once(booking, now):
                marked += 1
    return marked
