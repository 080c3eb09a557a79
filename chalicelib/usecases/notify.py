"""E-mail notifications (French and English): confirmation, cancellation, slot closure, reminder,
the booking's link sent again, draw request acknowledgement and offer. Booking messages are sent
from the bookings stream (never on the booking path) through SES in AWS, or written as .eml files
under OUTBOX_DIR locally; every message links to the booking's or request's page in the web app,
with a link token (tokens.link_token) in the URL fragment.

For the draw: `offer_made(...)` is called by draws.send_pending_offers once an offer is committed
(it raises if sending failed, so the offer stays pending and the next tick sends it again).
"""
import os
import secrets
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import make_msgid
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from chalicelib import storage
from chalicelib.platform import config, keys
from chalicelib.platform.clock import to_rfc3339
from chalicelib.platform.observability import logger, metric
from chalicelib.platform.tokens import link_token
from chalicelib.usecases import site_catalog

# A bookings stream record's image: DynamoDB JSON as the stream gives it, or booking_image's plain values.
Image = dict[str, Any]
_ses = None
_ses_lock = threading.Lock()

# --- what to send --------------------------------------------------------------------------------

CONFIRMATION, CANCELLATION, CLOSURE, REMINDER, OFFER = "confirmation", "cancellation", "closure", "reminder", "offer"
LINK, REQUEST_FILED = "link", "request"


def kind_of_change(event_name: str, old: Image | None, new: Image | None) -> str | None:
    """Which message a bookings stream record calls for, or None (pure: plain dict images)."""
    old, new = old or {}, new or {}
    if event_name == "INSERT" and new.get("status") == "booked":
        return CONFIRMATION
    if event_name != "MODIFY":
        return None
    if new.get("status") == "booked":
        return _while_booked(old, new)
    if old.get("status") == "booked":
        return _on_ending(new.get("status"))
    return None


def _on_ending(status: str | None) -> str | None:
    """A booking that stops: cancelled, or its slot closed by the prefecture."""
    if status == "cancelled":
        return CANCELLATION
    if status == "closed":
        return CLOSURE
    return None


def _while_booked(old: Image, new: Image) -> str | None:
    """A booking that stays booked: its link asked for again, or its reminder due."""
    if new.get("link_requested_at") and new.get("link_requested_at") != old.get("link_requested_at"):
        return LINK
    if not old.get("reminded_at") and new.get("reminded_at"):
        return REMINDER
    return None


def _local_time(starts_at: str, tz_name: str | None) -> tuple[str, str]:
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
    LINK: (
        "Le lien de votre rendez-vous / The link to your appointment",
        "Vous avez demandé le lien de votre rendez-vous du {fr} ({site}), référence {reference}. "
        "Si vous n'avez rien demandé, ignorez ce message : il n'est envoyé qu'à vous.",
        "You asked for the link to your appointment of {en} ({site}), reference {reference}. "
        "If you did not ask, ignore this message: it is sent to you only.",
    ),
    REQUEST_FILED: (
        "Votre demande de rendez-vous est enregistrée / Your appointment request is registered",
        "Votre demande pour {site} du {from_fr} au {to_fr} est enregistrée. Un tirage au sort attribue les "
        "créneaux : si vous êtes tiré(e) au sort, un autre message vous le dira.",
        "Your request for {site} from {from_en} to {to_en} is registered. A draw allocates the slots: "
        "if you are drawn, another message will tell you.",
    ),
}

_LINK_TEXTS = (
    "Votre rendez-vous en ligne (pour l'imprimer ou l'annuler, depuis n'importe quel appareil) :\n{link}",
    "Your appointment online (to print or cancel it, from any device):\n{link}",
)
_REQUEST_LINK_TEXTS = (
    "Votre demande en ligne (pour la suivre, confirmer une proposition ou la retirer) :\n{link}",
    "Your request online (to follow it, confirm an offer or withdraw it):\n{link}",
)


def web_link(kind: str, item_id: str, issued: float | None = None) -> str:
    """The web app's page of a booking or request, its link token in the URL fragment (a
    fragment never reaches a server, so no log or proxy sees it); `issued`: the booking's
    `link_requested_at`, so that a link sent again replaces the one before."""
    base = config.current().web_base_url.split("#")[0]
    if "?" not in base and not base.endswith("/"):
        base += "/"
    return f"{base}#/{kind}/{quote(item_id, safe='')}/{link_token(keys.ring(keys.LINKS), kind, item_id, issued)}"


def _day_texts(day: str | None) -> tuple[str, str]:
    d = datetime.fromisoformat(day) if day else None
    return (d.strftime("%d/%m/%Y"), d.strftime("%Y-%m-%d")) if d else ("", "")


def render(kind: str, to: str, site_name: str, tz_name: str | None, starts_at: str | None, reference: str | None = None,
           expires_at: str | None = None, message_id: str | None = None, link: str | None = None,
           days: tuple[str | None, str | None] | None = None, site_name_en: str | None = None) -> EmailMessage:
    """The bilingual message (French first) as an EmailMessage; `link` (web_link) closes each
    language's part; `days` (first, last) for a request; the English part names the site in
    English where the site gives a name_en."""
    subject, french, english = _TEXTS[kind]
    fr, en = _local_time(starts_at, tz_name) if starts_at else ("", "")
    expires_fr, expires_en = _local_time(expires_at, tz_name) if expires_at else ("", "")
    values = {"fr": fr, "en": en, "site": site_name, "reference": reference or "", "expires_fr": expires_fr,
              "expires_en": expires_en}
    (values["from_fr"], values["from_en"]), (values["to_fr"], values["to_en"]) = (_day_texts(d) for d in (days or (None, None)))
    message = EmailMessage()
    message["From"] = config.current().mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="fairslot")
    message["Content-Language"] = "fr, en"
    if link:
        link_fr, link_en = _REQUEST_LINK_TEXTS if "/#/request/" in link else _LINK_TEXTS
        french, english = f"{french}\n\n{link_fr}", f"{english}\n\n{link_en}"
        values["link"] = link
    english_values = {**values, "site": site_name_en or site_name}
    message.set_content(french.format(**values) + "\n\n---\n\n" + english.format(**english_values) + "\n")
    return message


# --- how it is sent ------------------------------------------------------------------------------


def _ses_client() -> Any:
    global _ses
    if _ses is None:
        with _ses_lock:
            if _ses is None:
                import boto3  # cold start: boto3 itself, only once a message is sent through SES

                _ses = boto3.client("sesv2", region_name=config.current().region)
    return _ses


# SES v2 SendEmail errors that no retry can cure for this message (the address, the content, or
# the account's sending rights): the message is dropped and counted, so one poison record never
# holds the bookings stream back. Anything else (throttling, quotas, 5xx, the network, a paused
# account that staff may resume) raises, and the record is retried within the event source's
# bounds (infra/package.py), then lands in the notification failures queue.
PERMANENT_SES_ERRORS = frozenset({
    "MessageRejected", "BadRequestException", "MailFromDomainNotVerifiedException",
    "AccountSuspendedException", "NotFoundException",
})
DROPPED = "dropped"


def _permanent_error_code(exc: Exception) -> str | None:
    """The SES error code of a permanent refusal, or None (transient, or not an SES answer)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return code if code in PERMANENT_SES_ERRORS and status < 500 else None


def outbox_path(outbox: str, name: str, message_id: str | None) -> str:
    """Where a message goes in the local outbox: `<name>.eml`, then `<name>.2.eml`, `<name>.3.eml`...
    for each later, different message of that name (three look-ups, three files); only a retry of
    the same message (same Message-ID, e.g. a stream record handled again) replaces its own file."""
    n = 1
    while True:
        path = os.path.join(outbox, f"{name}.eml" if n == 1 else f"{name}.{n}.eml")
        if not os.path.exists(path):
            return path
        with open(path, "rb") as f:
            if message_id and BytesHeaderParser().parse(f).get("Message-ID") == message_id:
                return path
        n += 1


def send(message: EmailMessage, name: str) -> str | None:
    """Send one message: an .eml file under OUTBOX_DIR when set (local), SES otherwise. Returns
    DROPPED when SES refuses the message for good (counted, logged without the address); raises
    on any other failure (the stream retries the record)."""
    outbox = config.current().outbox_dir
    if outbox:
        os.makedirs(outbox, exist_ok=True)
        # Raw bytes (a test's message) carry no Message-ID to compare: a new file each time.
        path = outbox_path(outbox, name, message.get("Message-ID") if isinstance(message, EmailMessage) else None)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(bytes(message))
        os.replace(tmp, path)  # whole files only: a reader never sees half a message
        return path
    try:
        _ses_client().send_email(
            FromEmailAddress=message["From"],
            Destination={"ToAddresses": [message["To"]]},
            Content={"Raw": {"Data": bytes(message)}},
        )
    except Exception as exc:
        code = _permanent_error_code(exc)
        if code is None:
            raise
        metric("NotificationDropped")
        # The code only: SES messages may quote the address.
        logger().error("notification dropped: SES refused it for good", extra={"message_name": name, "ses_error": code})
        return DROPPED
    return None


# --- the stream handler's work -------------------------------------------------------------------


def booking_changed(event_name: str, old_image: Image | None, new_image: Image | None, sequence: str = "0") -> str | None:
    """One bookings stream record: send what it calls for. Raises if sending failed, so the
    record is retried (the booking itself is already safely stored)."""
    old, new = storage.booking_image(old_image), storage.booking_image(new_image)
    kind = kind_of_change(event_name, old, new)
    if kind is None:
        return None
    email = ((new.get("applicant") or {}).get("email"))
    if not email:
        return None
    try:
        site = site_catalog.site(new["site_id"])
        site_name, tz_name, site_name_en = site.name, site.timezone, site.name_en
    except Exception:  # noqa: BLE001 -- an unknown site still gets its message
        site_name, tz_name, site_name_en = new.get("site_id", ""), "Europe/Paris", None
    # The same record always yields the same message id: a retried record replaces its own file.
    name = f"{new['booking_id']}-{kind}"
    message = render(kind, email, site_name, tz_name, new["starts_at"], reference=new.get("reference"),
                     message_id=f"<{name}.{sequence}@fairslot>", link=web_link("booking", new["booking_id"], new.get("link_requested_at")),
                     site_name_en=site_name_en)
    try:
        sent = send(message, name)
    except Exception as exc:
        metric("NotificationFailed")
        logger().warning("notification not sent, the record will be retried",
                         extra={"kind": kind, "booking_id": new["booking_id"], "error": type(exc).__name__})
        raise
    if sent == DROPPED:
        return None
    metric("NotificationSent")
    return kind


def offer_made(email: str, site_id: str, starts_at: str, expires_at: float | str, reference: str | None = None, offer_id: str | None = None,
               request_id: str | None = None) -> None:
    """The draw's offer e-mail (expires_at: epoch seconds or RFC 3339), linking to the request's
    page where the offer is confirmed. Raises if sending failed."""
    site = site_catalog.site(site_id)
    expires = to_rfc3339(expires_at) if isinstance(expires_at, (int, float)) else expires_at
    name = f"{offer_id or 'offer_' + secrets.token_hex(12)}-offer"
    link = web_link("request", request_id) if request_id else None
    send(render(OFFER, email, site.name, site.timezone, starts_at, reference, expires, link=link, site_name_en=site.name_en),
         name)
    metric("NotificationSent")


def request_filed(email: str, site_id: str, request_id: str, first_day: str, last_day: str) -> None:
    """The acknowledgement of a draw request, with the link to its page. Raises if sending failed."""
    site = site_catalog.site(site_id)
    send(render(REQUEST_FILED, email, site.name, site.timezone, None, days=(first_day, last_day),
                link=web_link("request", request_id), site_name_en=site.name_en), f"{request_id}-request")
    metric("NotificationSent")


# --- reminders -----------------------------------------------------------------------------------


def remind_tomorrow(now: float) -> int:
    """Mark tomorrow's bookings (local date of each site) as reminded, each once: the stream then
    sends the reminder. Returns how many were marked by this run."""
    marked = 0
    for site in site_catalog.sites():
        tomorrow = (datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo(site.timezone)).date()
                    + timedelta(days=config.current().reminder_lead_days))
        for booking in storage.bookings_to_remind(site.site_id, tomorrow.isoformat()):
            if storage.mark_reminded_once(booking, now).ok:
                marked += 1
    return marked
