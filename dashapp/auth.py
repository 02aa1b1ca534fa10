"""Optional authentication for team deployments (filled in by the deployment work)."""


def install_auth(app) -> None:  # noqa: ARG001 - placeholder until auth lands
    return None
