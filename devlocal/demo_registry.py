"""The demo identity registry of `make run` (SPEC R10): a JSON Lines file of people a newcomer can
book a renewal as, their one-time codes landing in the local outbox like every e-mail."""
import json
import os

# Invented people: AGDREF numbers (10 digits), birth dates and family names as the registry holds
# them, and the contact the code goes to (an address of the reserved example.org domain).
DEMO_PEOPLE = (
    {"document_type": "agdref", "number": "7501234567", "birth_date": "1988-04-12", "family_name": "Benali",
     "given_names": "Amina", "email": "amina.benali@example.org"},
    {"document_type": "agdref", "number": "3409876543", "birth_date": "1995-11-03", "family_name": "Nguyen",
     "given_names": "Minh", "email": "minh.nguyen@example.org"},
    {"document_type": "agdref", "number": "1302468013", "birth_date": "1979-02-28", "family_name": "Diallo",
     "given_names": "Mariama", "email": "mariama.diallo@example.org"},
)
FIELDS = ("document_type", "number", "birth_date", "family_name", "email")


def default_path(root):
    return os.path.join(root, "var", "identity-registry.jsonl")


def write_demo_registry(path):
    """The demo people as the registry file at `path` (replaced whole)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for person in DEMO_PEOPLE:
            f.write(json.dumps({name: person[name] for name in FIELDS}) + "\n")
    os.replace(tmp, path)


def demo_lines():
    """What `make run` prints: two people to try."""
    return [f"  {p['given_names']} {p['family_name'].upper()}, AGDREF {p['number']}, born {p['birth_date']} "
            f"(code e-mailed to {p['email']}, in the outbox)" for p in DEMO_PEOPLE[:2]]
