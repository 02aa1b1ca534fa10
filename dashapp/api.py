"""JSON API on the Dash server's Flask app (filled in by the deployment work)."""


def register_api(server, executor_factory) -> None:  # noqa: ARG001 - placeholder until the API lands
    return None
