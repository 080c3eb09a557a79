"""The local outbox keeps every message: one file per message, never overwritten except by a retry
of the same message, and devlocal.outbox reads the latest one, its code or its link."""
from email.message import EmailMessage

from chalicelib.usecases import notify
from devlocal import outbox as reader


def _message(to, text, message_id):
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = to, "fairslot", message_id
    message.set_content(text)
    return message


def _write(monkeypatch, tmp_path, message, name):
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path))
    return notify.send(message, name)


def test_three_lookups_leave_three_link_files(monkeypatch, tmp_path):
    for i in range(3):
        _write(monkeypatch, tmp_path, _message("a@example.org", f"link {i}", f"<bkg_1-link.{i}@fairslot>"), "bkg_1-link")
    assert sorted(p.name for p in tmp_path.glob("*.eml")) == ["bkg_1-link.2.eml", "bkg_1-link.3.eml", "bkg_1-link.eml"]


def test_a_retried_record_replaces_its_own_file_only(monkeypatch, tmp_path):
    first = _write(monkeypatch, tmp_path, _message("a@example.org", "one", "<bkg_1-confirmation.7@fairslot>"), "bkg_1-confirmation")
    again = _write(monkeypatch, tmp_path, _message("a@example.org", "one", "<bkg_1-confirmation.7@fairslot>"), "bkg_1-confirmation")
    assert first == again
    assert [p.name for p in tmp_path.glob("*.eml")] == ["bkg_1-confirmation.eml"]


def test_the_reader_prints_the_latest_code_and_link(monkeypatch, tmp_path, capsys):
    _write(monkeypatch, tmp_path, _message("a@example.org", "Votre code : 482913", "<v1@fairslot>"), "ver_1-code")
    _write(monkeypatch, tmp_path, _message("b@example.org", "Lien : http://127.0.0.1:8080/#/booking/bkg_2/tok", "<l1@fairslot>"), "bkg_2-link")
    assert reader.main(["--dir", str(tmp_path), "--code"]) == 0
    assert reader.main(["--dir", str(tmp_path), "--link"]) == 0
    assert reader.main(["--dir", str(tmp_path), "--to", "b@example.org", "--code"]) == 1
    assert capsys.readouterr().out.split() == ["482913", "http://127.0.0.1:8080/#/booking/bkg_2/tok"]
