"""Reads the local outbox (the .eml files `make run` writes instead of sending e-mail): the latest message, its one-time code or its link.

    python -m devlocal.outbox                     # the latest message: file, recipient, subject, text
    python -m devlocal.outbox --code              # only its 6-digit code (identity verification)
    python -m devlocal.outbox --link              # only its link (booking, request or offer page)
    python -m devlocal.outbox --to amina@example.org --code   # the latest one sent to that address
    python -m devlocal.outbox --list              # every message, oldest first

The outbox is OUTBOX_DIR, else var/outbox/ (as devlocal.stack sets it). File names: see DEVELOPERS.md.
"""
import argparse
import email
import os
import re
import sys
from email import policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
LINK = re.compile(r"https?://\S+#/\S+")


def messages(outbox):
    """(path, message) of every .eml file, oldest first (by the time it was written)."""
    if not os.path.isdir(outbox):
        return []
    paths = [os.path.join(outbox, n) for n in os.listdir(outbox) if n.endswith(".eml")]
    paths.sort(key=lambda p: (os.path.getmtime(p), p))
    out = []
    for path in paths:
        with open(path, "rb") as f:
            out.append((path, email.message_from_binary_file(f, policy=policy.default)))
    return out


def text_of(message):
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=os.environ.get("OUTBOX_DIR") or os.path.join(ROOT, "var", "outbox"))
    parser.add_argument("--to", help="only messages sent to this address")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--code", action="store_true", help="print only the 6-digit code of the latest message")
    group.add_argument("--link", action="store_true", help="print only the link of the latest message")
    group.add_argument("--list", action="store_true", help="list every message, oldest first")
    args = parser.parse_args(argv)
    found = [(p, m) for p, m in messages(args.dir) if not args.to or args.to.lower() in str(m["To"] or "").lower()]
    if args.list:
        for path, message in found:
            print(f"{os.path.basename(path)}\t{message['To']}\t{message['Subject']}")
        return 0
    if args.code or args.link:
        # The latest message that has one: a reminder written after the code does not hide it.
        pattern = CODE if args.code else LINK
        for _path, message in reversed(found):
            match = pattern.search(text_of(message))
            if match:
                print(match.group(1) if args.code else match.group(0))
                return 0
        print(f"no message with a {'code' if args.code else 'link'} in {args.dir}", file=sys.stderr)
        return 1
    if not found:
        print(f"no message in {args.dir}", file=sys.stderr)
        return 1
    path, message = found[-1]
    print(f"file     {path}\nto       {message['To']}\nsubject  {message['Subject']}\n")
    print(text_of(message))
    return 0


if __name__ == "__main__":
    sys.exit(main())
