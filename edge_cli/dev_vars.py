"""`.dev.vars` in `dev` (SPEC.md §11): the project's dotenv file becomes the dev deployment's own secrets.

At start and on every save the file is read and the difference with what was applied last is sent:
changed or new names are put, names removed from the file are deleted. The platform then tells the
dev runtime (`secrets.updated`), which fetches them and replaces its workers. A file that does not
parse is reported and the previous values stay.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from .client import PlatformClient
from .dotenv_file import DEV_VARS, DotenvError, read_secrets_file
from .errors import CliError


def plan_changes(applied: dict[str, str], wanted: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What to put (new or changed values) and what to delete (names no longer in the file)."""
    puts = {name: value for name, value in wanted.items() if applied.get(name) != value}
    deletes = sorted(name for name in applied if name not in wanted)
    return puts, deletes


class DevVars:
    def __init__(
        self, project_dir: Path, client: PlatformClient, deployment_id: str, echo: Callable[[str], None]
    ) -> None:
        self.path = Path(project_dir) / DEV_VARS
        self.client = client
        self.deployment_id = deployment_id
        self.echo = echo
        self.applied: dict[str, str] = {}

    def is_dev_vars(self, path: str) -> bool:
        return Path(path).name == DEV_VARS and Path(path).resolve().parent == self.path.resolve().parent

    def apply(self) -> bool:
        """Bring the dev deployment's secrets in line with the file; True when something changed."""
        try:
            wanted = read_secrets_file(self.path) if self.path.is_file() else {}
        except (DotenvError, OSError) as exc:
            self.echo(f"✗ {DEV_VARS} not applied: {exc}; the previous values stay")
            return False
        puts, deletes = plan_changes(self.applied, wanted)
        try:
            for name, value in puts.items():
                self.client.put(f"/api/secrets/{name}", {"value": value, "deploymentId": self.deployment_id})
                self.applied[name] = value
            for name in deletes:
                # A name already gone (deleted by hand) is as good as deleted: the status is not checked.
                self.client.request_raw("DELETE", f"/api/secrets/{name}?deploymentId={quote(self.deployment_id)}")
                self.applied.pop(name, None)
        except CliError as exc:
            self.echo(f"✗ {DEV_VARS} not applied: {exc}")
            return False
        if puts or deletes:
            names = ", ".join([*puts, *(f"-{n}" for n in deletes)])
            self.echo(f"✓ {DEV_VARS}: {names}")
        return bool(puts or deletes)
