"""Every process validates the whole configuration at start: a bad key stops it with exit code 2
and a message naming the key, before it touches Kafka or opens a port."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookgate.cli import main
from tests import REPO

BAD = (
    "sources:\n"
    "  - name: stripe\n"
    "    provider: stripe\n"
    "    secrets: [whsec_x]\n"
    "    public_url: https://hooks.example.com/webhooks/stripe\n"
)


@pytest.mark.parametrize("command", ["ingress", "worker", "topics", "tail", "config"])
def test_a_key_the_provider_does_not_take_stops_the_process_naming_it(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hookgate.yaml"
    path.write_text(BAD)
    arguments = {
        "ingress": ["ingress"],
        "worker": ["worker"],
        "topics": ["topics", "ensure"],
        "tail": ["tail", "raw"],
        "config": ["config", "check"],
    }[command]
    assert main([*arguments, "--config", str(path)]) == 2
    assert "config: sources[0].public_url: unknown key for provider stripe" in (
        capsys.readouterr().err
    )


def test_config_check_accepts_the_development_config(capsys: pytest.CaptureFixture[str]) -> None:
    sample = REPO / "hookgate" / "samples" / "dev.yaml"
    assert main(["config", "check", "--config", str(sample)]) == 0
    assert "valid (5 sources)" in capsys.readouterr().out
