"""The embedded local Ray (no RAY_ADDRESS, no `ray.address`): loopback only, free ports, a private token.

Started as `ray.init()` leaves it, a local Ray listens on every interface (workers, raylet and GCS on
`*`, the dashboard agent on 0.0.0.0), serves unauthenticated Prometheus metrics on the fixed ports
44217 (autoscaler) and 44227 (dashboard), so two concurrent runs collide there, and the dashboard
agent's HTTP server on the fixed port 52365. Its auth token is written with the umask (0644).

What Ray 2.60 offers, and what this module uses:
- The node IP decides the bind address of every Ray service: the C++ servers (GCS, raylet, object
  manager, core workers) listen on 127.0.0.1 only when the node IP is 127.0.0.1, and the Python agents
  and metrics servers on localhost when `is_localhost(node_ip)`. `ray.init(_node_ip_address=...)` alone
  does not do it: Ray turns a loopback address into the machine's "reachable" IP unless
  `ray_constants.ENABLE_RAY_CLUSTER` is false, which Ray reads from RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER
  when `ray` is imported. So the variable is set for the processes Ray starts, and the constant for
  this one (it was imported before).
- AUTOSCALER_METRIC_PORT / DASHBOARD_METRIC_PORT, read by the monitor and dashboard processes: 0 lets
  the system pick a free port.
- `ray.init()` has no argument for the dashboard agent's HTTP port (RayParams defaults it to 52365);
  0 makes the agent pick a free one, so it is defaulted to 0 while `ray.init()` builds its RayParams.
- The token file is created 0600 before Ray would create it world-readable.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import secrets
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("winnow")

LOOPBACK = "127.0.0.1"

ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node IP = loopback, so every service binds loopback
    "AUTOSCALER_METRIC_PORT": "0",  # free ports instead of the fixed 44217 / 44227
    "DASHBOARD_METRIC_PORT": "0",
}
"""Environment of the embedded Ray's processes (inherited from this one)."""

ENV_DEFAULTS = {"RAY_USAGE_STATS_ENABLED": "0"}
"""Set unless the user set them: no usage report leaves the machine from a local run."""


def start(num_cpus: int | None, task_retries: int = 3, **init_kwargs: Any) -> None:
    """Start the embedded Ray bound to loopback with free ports, and keep its token private.

    `task_retries` also bounds the retries of a task the memory monitor killed (Ray's
    `task_oom_retries`, unlimited by default): an input that makes its worker run out of memory is then
    treated like one that crashes it, never retried forever. `init_kwargs` go to `ray.init` (the test
    suite's shared session passes its logging options).
    """
    import ray
    from ray._private import ray_constants

    os.environ.update(ENV)
    for key, value in ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    ray_constants.ENABLE_RAY_CLUSTER = False  # imported before ENV was set: same effect in this process
    create_private_token()
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING, **init_kwargs}
    with _agent_port_free():
        ray.init(
            num_cpus=num_cpus,
            _node_ip_address=LOOPBACK,
            _system_config={"task_oom_retries": task_retries},
            **options,
        )
    private_token_file()
    node_ip = ray.util.get_node_ip_address()
    if node_ip != LOOPBACK:
        log.warning(
            "the embedded Ray runs on %s, not %s: it may be reachable from the network", node_ip, LOOPBACK
        )


@contextlib.contextmanager
def _agent_port_free() -> Iterator[None]:
    """Default RayParams' `dashboard_agent_listen_port` to 0 (a free port) while `ray.init()` runs."""
    from ray._private import parameter

    init = parameter.RayParams.__init__
    if "dashboard_agent_listen_port" not in inspect.signature(init).parameters:
        yield
        return

    @functools.wraps(init)
    def free_port_init(self: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("dashboard_agent_listen_port", 0)
        init(self, *args, **kwargs)

    parameter.RayParams.__init__ = free_port_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        parameter.RayParams.__init__ = init  # type: ignore[method-assign]


def token_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".ray", "auth_token")


def create_private_token() -> None:
    """Write Ray's default token file 0600 when Ray is about to create it (token auth on, none given).

    Ray writes it with the umask (0644): chmod afterwards would leave it readable for a moment.
    """
    mode = os.environ.get("RAY_AUTH_MODE", "token").lower()
    if mode != "token" or os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = token_path()
    if os.path.exists(path):
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))  # what Ray's own generator writes: 256 random bits in hex
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not create %s: %s (Ray will create it)", path, exc)
        with contextlib.suppress(OSError):
            os.remove(tmp)


def private_token_file() -> None:
    """A token file that exists already (an older Ray or run wrote it) is made 0600: it grants the cluster."""
    path = token_path()
    try:
        if os.path.exists(path) and os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc)
