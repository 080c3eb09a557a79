"""Demo data: the Préfecture de l'Hérault (Montpellier) and the sous-préfecture of Béziers,
three procedures each, three weeks of weekday slots published at once; Béziers' students are
allocated by draw, everything else first come, first served (with quarantine and cooldown)."""
from datetime import date, time, timedelta

PROCEDURES = [
    {"procedure_id": "renewal", "name": "Renouvellement de titre de séjour", "name_en": "Residence permit renewal"},
    {"procedure_id": "first_application", "name": "Première demande de titre de séjour",
     "name_en": "First residence permit application"},
    {"procedure_id": "student", "name": "Étudiants et chercheurs", "name_en": "Students and researchers"},
]
SITES = [
    {
        "site_id": "herault-montpellier",
        "name": "Préfecture de l'Hérault",
        "name_en": "Hérault prefecture",
        "address": "34 place des Martyrs de la Résistance, 34062 Montpellier",
        "timezone": "Europe/Paris",
        "counters": {"renewal": 3, "first_application": 2, "student": 2},
    },
    {
        "site_id": "herault-beziers",
        "name": "Sous-préfecture de Béziers",
        "name_en": "Béziers sub-prefecture",
        "address": "Boulevard Édouard Herriot, 34500 Béziers",
        "timezone": "Europe/Paris",
        "counters": {"renewal": 2, "first_application": 1, "student": 1},
    },
]


def seed(now, weeks=3):
    """Create the demo sites and slots unless they exist; returns the number of slots created."""
    from chalicelib import storage
    from chalicelib.rules import submitted
    from chalicelib.usecases import site_catalog

    created = 0
    first = date.fromtimestamp(now) + timedelta(days=1)
    for spec in SITES:
        if storage.get_site(spec["site_id"]) is not None:
            continue
        site_catalog.create_site(spec["site_id"], spec["name"], spec["address"], spec["timezone"], PROCEDURES, now, "seed",
                              name_en=spec.get("name_en"))
        for procedure in PROCEDURES:
            created += site_catalog.publish_schedule(
                spec["site_id"],
                procedure["procedure_id"],
                submitted.Schedule(
                    procedure_id=procedure["procedure_id"],
                    first_day=first,
                    last_day=first + timedelta(days=7 * weeks - 1),
                    weekdays=frozenset({0, 1, 2, 3, 4}),
                    opens=time(9, 0),
                    closes=time(12, 0),
                    slot_minutes=15,
                    counters=spec["counters"][procedure["procedure_id"]],
                    publish="now",
                ),
                now,
                staff_subject="seed",
            )["created"]
    # One procedure shows the draw (R6): students at Béziers file requests, drawn every hour.
    # Renewals are `auto` (first come while nobody waits, then standby requests drawn every hour).
    if created:
        site_catalog.update_policy("herault-beziers", "student", {"allocation": "draw", "draw_interval_seconds": 3600}, now,
                              staff_subject="seed")
        for spec in SITES:
            site_catalog.update_policy(spec["site_id"], "renewal", {"allocation": "auto", "draw_interval_seconds": 3600}, now,
                                  staff_subject="seed")
    return created
