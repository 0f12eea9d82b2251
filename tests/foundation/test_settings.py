"""Settings that follow each other so a moved stack keeps working."""

from __future__ import annotations

from infra.settings import load_settings


def test_links_follow_the_web_port_unless_a_public_url_is_set(monkeypatch) -> None:
    monkeypatch.delenv("MENTORFLOW_PUBLIC_BASE_URL", raising=False)
    assert load_settings().base_url == "http://127.0.0.1:8000"
    # `dev up` on another port: the emails' links must reach the app that listens there.
    assert load_settings(web_port=46271).base_url == "http://127.0.0.1:46271"
    assert load_settings(web_host="0.0.0.0", web_port=9000).base_url == "http://127.0.0.1:9000"
    public = load_settings(web_port=46271, public_base_url="https://mentorship.example.org/")
    assert public.base_url == "https://mentorship.example.org"
