"""Every error code the API can send: its HTTP status, and its text in English and French (pure data).

The one place a code's status and words live. An error carries only its code (rules/errors.py):
the API answers with the code's status and, for a refusal (rules/refusals.py), its English text;
the web app shows its French or English text from web/src/contract.js, generated from here by
devlocal/web_contract.py; the OpenAPI document lists each route's codes with their status.
tests/unit/test_contract.py fails when a code raised anywhere in the code, or answered by API
Gateway, is missing here.
"""
from typing import NamedTuple


class Code(NamedTuple):
    status: int
    en: str
    fr: str


# The English text is also the API's message: it is written for anyone reading an answer, an
# applicant in the web app as well as a partner's developer.
CODES: dict[str, Code] = {k: Code(*v) for k, v in {

    "malformed_request": (400, "The request could not be processed (invalid request). Reload the page and try again.",
                          "La demande n’a pas pu être traitée (requête invalide). Rechargez la page puis réessayez."),
    # API Gateway's DEFAULT_4XX (infra/resources.yaml): a request it refused before fairslot saw it.
    "bad_request": (400, "The request could not be processed (invalid request). Reload the page and try again.",
                    "La demande n’a pas pu être traitée (requête invalide). Rechargez la page puis réessayez."),
    "unauthorized": (401, "Missing or invalid credentials.", "Identifiants absents ou invalides."),
    "bad_hold_token": (401, "Access denied: the link or code for this booking is not valid.",
                       "Accès refusé : le lien ou le code de cette réservation n’est pas valide."),
    "bad_booking_token": (401, "Access denied: the link or code for this appointment is not valid.",
                          "Accès refusé : le lien ou le code de ce rendez-vous n’est pas valide."),
    "bad_request_token": (401, "Access denied: the link or code for this request is not valid.",
                          "Accès refusé : le lien ou le code de cette demande n’est pas valide."),
    "forbidden": (403, "This action is not allowed.", "Cette action n’est pas autorisée."),
    "draw_only": (403, "This procedure is now allocated by lottery: go back to step 1 to file a request.",
                  "Cette démarche est désormais attribuée par tirage au sort : revenez à l’étape 1 pour déposer une demande."),
    "not_draw": (403, "This procedure is first come, first served: go back to step 1 and choose a slot.",
                 "Cette démarche n’est pas attribuée par tirage au sort : revenez à l’étape 1 pour choisir un créneau."),
    "forbidden_site": (403, "This key or account may not act on this site.", "Cette clé ou ce compte ne peut pas agir sur ce site."),
    # R10: a hold, request or look-up on a procedure that proves identities, without a valid identity token.
    "identity_unverified": (403, "Confirm your identity first: ask for a code, then enter the code you received.",
                            "Confirmez d’abord votre identité : demandez un code, puis saisissez le code reçu."),
    "registry_mismatch": (403, "This person is not in the foreign nationals' registry under this number, birth date and family name.",
                          "Cette personne ne figure pas au fichier des étrangers sous ce numéro, cette date de naissance et ce nom."),
    "not_this_partner": (403, "This hold was made by another partner.", "Cette réservation a été faite par un autre partenaire."),
    "not_found": (404, "Not found: it may have been removed or never existed.",
                  "Élément introuvable : il a peut-être été supprimé ou n’a jamais existé."),
    "slot_not_found": (404, "This slot no longer exists. Choose another one.", "Ce créneau n’existe plus. Choisissez-en un autre."),
    "hold_not_found": (404, "This booking can no longer be found: start again from the choice of a slot.",
                       "Cette réservation est introuvable : recommencez à partir du choix d’un créneau."),
    "request_not_found": (404, "This request cannot be found.", "Cette demande est introuvable."),
    "booking_not_found": (404, "This appointment cannot be found.", "Ce rendez-vous est introuvable."),
    "site_not_found": (404, "This place is unknown.", "Ce lieu est inconnu."),
    "procedure_not_found": (404, "This procedure is not offered at this place.", "Cette démarche n’est pas proposée dans ce lieu."),
    "draw_not_found": (404, "No recorded draw with this id.", "Aucun tirage enregistré sous cet identifiant."),
    "verification_not_found": (404, "This code request cannot be found: ask for a new code.",
                               "Cette demande de code est introuvable : demandez un nouveau code."),
    "partner_not_found": (404, "This partner is unknown.", "Ce partenaire est inconnu."),
    "method_not_allowed": (405, "This action is not possible on this address.", "Cette action n’est pas possible à cette adresse."),
    "slot_unavailable": (409, "This slot has just been taken by someone else. Choose another slot.",
                         "Ce créneau vient d’être pris par quelqu’un d’autre. Choisissez un autre créneau."),
    "hold_already_active": (409, "You already have an active booking or hold for this identity: only one at a time is allowed.",
                            "Vous avez déjà une réservation en cours pour cette identité : une seule réservation à la fois est possible."),
    "booking_already_active": (409, "You already have an appointment for this procedure.",
                               "Vous avez déjà un rendez-vous pour cette démarche."),
    "request_already_active": (409, "You already have a request for this procedure.", "Vous avez déjà une demande en cours pour cette démarche."),
    "hold_not_active": (409, "This booking is no longer pending: it was confirmed or released.",
                        "Cette réservation n’est plus en attente : elle a été confirmée ou libérée."),
    "booking_not_active": (409, "This appointment is no longer active.", "Ce rendez-vous n’est plus actif."),
    "request_not_live": (409, "This request can no longer be withdrawn.", "Cette demande ne peut plus être retirée."),
    "slots_available": (409, "Slots are free in these dates: go back and choose one instead of filing a request.",
                        "Des créneaux sont libres à ces dates : revenez en arrière et choisissez-en un plutôt que de déposer une demande."),
    "slot_started": (409, "This appointment has already started: choose another slot.",
                     "Ce rendez-vous a déjà commencé : choisissez un autre créneau."),
    "state_changed": (409, "This is no longer possible: things changed in the meantime.",
                      "L’opération n’est plus possible : la situation a changé entre-temps."),
    "appointment_not_started": (409, "The appointment has not started yet.", "Le rendez-vous n’a pas encore commencé."),
    "slot_not_closable": (409, "This slot cannot be closed in its current state.", "Ce créneau ne peut pas être fermé dans son état actuel."),
    "site_exists": (409, "This place already exists.", "Ce lieu existe déjà."),
    "partner_exists": (409, "This partner already exists.", "Ce partenaire existe déjà."),
    "partner_revoked": (409, "This partner's key has been revoked.", "La clé de ce partenaire a été révoquée."),
    "draw_running": (409, "This draw is already running.", "Ce tirage est déjà en cours."),
    "draw_exists": (409, "This draw already exists.", "Ce tirage existe déjà."),
    "verification_not_needed": (409, "This procedure does not ask for a code: go on without one.",
                                "Cette démarche ne demande pas de code : continuez sans code."),
    "verification_expired": (410, "This code has expired or was already used: ask for a new code.",
                             "Ce code a expiré ou a déjà servi : demandez un nouveau code."),
    "draw_too_soon": (409, "Entries to this draw are open for draw_interval_seconds after the previous draw: run it later, or give a reason (published with the draw).",
                      "Les inscriptions à ce tirage restent ouvertes draw_interval_seconds après le tirage précédent : lancez-le plus tard, ou donnez un motif (publié avec le tirage)."),
    "hold_expired": (410, "The time to confirm has run out: the slot has been released. A new booking will only be possible after a waiting period.",
                     "Le délai de confirmation est dépassé : le créneau a été libéré. Une nouvelle réservation ne sera possible qu’après un délai d’attente."),
    "unsupported_media_type": (415, "The request could not be processed (unsupported format).",
                               "La demande n’a pas pu être traitée (format non pris en charge)."),
    "invalid_field": (422, "Some details are invalid. Correct the fields shown.", "Certaines informations sont invalides. Corrigez les champs signalés."),
    "code_invalid": (422, "This code is not the one we sent. Check it and try again.",
                     "Ce code n’est pas celui que nous avons envoyé. Vérifiez-le et réessayez."),
    "verification_locked": (429, "Too many wrong codes: ask for a new code.", "Trop de codes erronés : demandez un nouveau code."),
    "cooldown": (429, "Waiting period: after a cancellation or an unconfirmed hold, the same person must wait before booking again (a measure against reselling).",
                 "Délai d’attente en cours : après une annulation ou une réservation non confirmée, la même personne doit attendre avant de réserver à nouveau (mesure contre la revente)."),
    # Holds, standby requests and "find my booking" alike (R8).
    "rate_limited": (429, "Too many attempts from your connection.", "Trop de tentatives depuis votre connexion."),
    "partner_quota_exceeded": (429, "This partner's daily quota is used up.", "Le quota quotidien de ce partenaire est atteint."),
    "quota_exceeded": (429, "The daily request quota of this API key is used up.", "Le quota quotidien de requêtes de cette clé est atteint."),
    "internal_error": (500, "The service has a problem. Try again in a few minutes.", "Le service rencontre un problème. Réessayez dans quelques minutes."),
    "storage_unavailable": (503, "The service is very busy.", "Le service est très sollicité."),
    "registry_unavailable": (503, "The identity check is unavailable for now. Try again in a few minutes.",
                             "La vérification d’identité est momentanément indisponible. Réessayez dans quelques minutes."),
    "unavailable": (503, "The service is very busy.", "Le service est très sollicité."),
}.items()}
