"""The deployment files, checked statically (no Docker engine or systemd runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SECRET_WORDS = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY)\b", re.I)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_slim_multistage_and_runs_as_a_non_root_user():
    steps = dockerfile_instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and all("slim" in f for f in froms)
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (w, _) in enumerate(final) if w == "USER")
    entry = max(i for i, (w, _) in enumerate(final) if w in ("CMD", "ENTRYPOINT"))
    assert last_user < entry


def test_dockerfile_has_state_volume_healthcheck_and_no_baked_secret():
    steps = dockerfile_instructions()
    words = [w for w, _ in steps]
    assert any(w == "VOLUME" and "/app/var" in r for w, r in steps)
    health = next(r for w, r in steps if w == "HEALTHCHECK")
    assert "/healthz" in health
    assert "HEALTHCHECK" in words and "EXPOSE" in words
    for word, rest in steps:
        if word in ("ENV", "ARG"):
            assert not SECRET_WORDS.search(rest), rest
    copied = [r.split()[0] for w, r in steps if w == "COPY" and "--from" not in r]
    assert ".env" not in copied and "." not in copied  # never the whole tree (a local .env)


def test_dockerfile_env_names_are_real_settings():
    from daemon.config import Settings

    names = re.findall(r"PLANBELL_([A-Z_]+)=", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    fields = {name.upper() for name in Settings.model_fields} | {"TEMPLATES"}
    assert names and set(names) <= fields


def test_compose_runs_postgres_and_two_instances_with_secrets_from_files():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert "db" in services and services["db"]["image"].startswith("postgres")
    instances = [s for name, s in services.items() if name.startswith("planbell")]
    assert len(instances) == 2
    for service in instances:
        env = service["environment"]
        assert "PLANBELL_DATABASE_URL_FILE" in env and "PLANBELL_DATABASE_URL" not in env
        assert all(not SECRET_WORDS.search(k) or k.endswith("_FILE") for k in env)
        assert any(v.endswith(":ro") for v in service["volumes"])


def test_systemd_unit_restarts_on_failure_and_is_hardened():
    lines = (ROOT / "deploy" / "planbell.service").read_text(encoding="utf-8").splitlines()
    settings: dict[str, str] = {}
    for line in lines:
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), value.strip())
    assert settings["Restart"] == "on-failure"
    assert settings["User"] == "planbell"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["EnvironmentFile"].lstrip("-").startswith("/etc/planbell/")
    assert settings["ExecStart"].endswith("planbell run")
    assert not any(SECRET_WORDS.search(line) for line in lines if line.startswith("Environment="))
