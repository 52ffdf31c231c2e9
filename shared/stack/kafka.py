"""A single-node Kafka broker (KRaft) run from jars resolved out of Maven Central."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import string
import subprocess
import time
from pathlib import Path

from touchline.shared.stack import services
from touchline.shared.stack.layout import DEPLOY_KAFKA_DIR, Layout, free_port, port_open, run_sync, tail

DEFAULT_VERSION = "4.1.1"
DEFAULT_PORT = 29092
DEFAULT_CONTROLLER_PORT = 29093
READY_TIMEOUT_SECONDS = 60.0
NAME = "kafka"
POM = DEPLOY_KAFKA_DIR / "pom.xml"
# Always cap the heap: without -Xmx the JVM takes a quarter of the machine's memory.
JVM_OPTS = ["-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


class KafkaStartError(RuntimeError):
    pass


def libs_dir(version: str = DEFAULT_VERSION) -> Path:
    override = os.environ.get("TOUCHLINE_KAFKA_LIBS")
    if override:
        return Path(override)
    return Path.home() / ".cache" / "touchline" / f"kafka-{version}" / "libs"


def _pom_stamp(version: str) -> str:
    return hashlib.sha256(POM.read_bytes() + version.encode()).hexdigest()


def ensure_jars(version: str = DEFAULT_VERSION) -> Path:
    """Resolve the broker's runtime jars once per machine (and again when pom.xml changes)."""
    libs = libs_dir(version)
    if os.environ.get("TOUCHLINE_KAFKA_LIBS"):
        return libs  # someone else's folder: never rewrite it
    stamp = libs.parent / "pom.sha256"
    has_jars = libs.is_dir() and any(libs.glob("*.jar"))
    if has_jars and stamp.exists() and stamp.read_text() == _pom_stamp(version):
        return libs
    # Resolve into a fresh folder and swap it in, so a failed mvn never leaves half a cache.
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    print(f"kafka: resolving Kafka {version} jars with mvn into {libs} (once per machine)")
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={staging}",
        ],
        check=True,
    )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    stamp.write_text(_pom_stamp(version))
    return libs


def _properties_path(layout: Layout) -> Path:
    return layout.kafka_dir / "server.properties"


def _render_properties(layout: Layout, *, port: int, controller_port: int) -> Path:
    template = string.Template((DEPLOY_KAFKA_DIR / "server.properties.template").read_text())
    data_dir = layout.kafka_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    text = template.substitute(port=port, controller_port=controller_port, data_dir=data_dir)
    path = _properties_path(layout)
    path.write_text(text)
    return path


def configured_port(layout: Layout) -> int | None:
    """The client port the broker in this home was last configured with."""
    path = _properties_path(layout)
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("listeners="):
            return int(line.split("PLAINTEXT://", 1)[1].split(",", 1)[0].rsplit(":", 1)[1])
    return None


def _cluster_id(layout: Layout) -> str:
    """The existing cluster id, else a new one: formatting with a different id fails even
    with --ignore-formatted, and keeping it is what lets data survive down/up."""
    meta = layout.kafka_dir / "data" / "meta.properties"
    if meta.exists():
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _java(libs: Path, layout: Layout, *jvm_opts: str) -> list[str]:
    return [
        "java",
        *jvm_opts,
        f"-Dkafka.logs.dir={layout.kafka_dir / 'logs'}",
        f"-Dlog4j2.configurationFile={DEPLOY_KAFKA_DIR / 'log4j2.properties'}",
        "-cp",
        f"{libs}/*",
    ]


def _format_storage(libs: Path, layout: Layout, properties: Path) -> None:
    argv = [
        *_java(libs, layout),
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "--ignore-formatted",
        "-t",
        _cluster_id(layout),
        "-c",
        str(properties),
    ]
    with open(layout.log(NAME), "ab") as log:
        result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise KafkaStartError(f"kafka storage format failed; see {layout.log(NAME)}:\n{tail(layout.log(NAME))}")


async def metadata_round_trip(bootstrap_servers: str, *, timeout: float = 5.0) -> list[str]:
    """List topics: a TCP connect is no proof the broker serves requests, this is."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


def _answers(bootstrap_servers: str) -> bool:
    try:
        run_sync(metadata_round_trip(bootstrap_servers, timeout=2.0))
    except Exception:  # any failure means "not ready yet": the caller retries
        return False
    return True


def _wait_ready(layout: Layout, pid: int, bootstrap: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    port = int(bootstrap.rsplit(":", 1)[1])
    while time.monotonic() < deadline:
        if not services.alive(pid):
            raise KafkaStartError(f"kafka exited during start-up; see {layout.log(NAME)}:\n{tail(layout.log(NAME))}")
        if port_open(port) and _answers(bootstrap):
            return
        time.sleep(0.25)
    raise KafkaStartError(
        f"kafka did not answer a metadata request on {bootstrap} within {timeout:.0f}s; see {layout.log(NAME)}"
    )


def ports_to_use(layout: Layout) -> tuple[int, int]:
    """The default ports, unless another checkout's stack (or anything else) holds them:
    then free ones, so a CI clone and a developer's `make up` run side by side."""
    defaults = (DEFAULT_PORT, DEFAULT_CONTROLLER_PORT)
    if services.pid_of(layout, NAME) is not None:
        return defaults  # ignored: a running broker keeps its own
    if not any(port_open(port) for port in defaults):
        return defaults
    return free_port(), free_port()


def kafka_bootstrap(layout: Layout) -> str | None:
    """The bootstrap address of this home's broker if it runs, else None."""
    port = configured_port(layout)
    if port is None or services.pid_of(layout, NAME) is None:
        return None
    return f"127.0.0.1:{port}"


def start_kafka(
    home: Path | str | None = None,
    *,
    port: int = DEFAULT_PORT,
    controller_port: int = DEFAULT_CONTROLLER_PORT,
    version: str = DEFAULT_VERSION,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> str:
    """Start the broker unless it runs already; return its bootstrap servers once it
    answers a metadata request. A running broker keeps the ports it was started with."""
    layout = Layout.at(home)
    pid = services.pid_of(layout, NAME)
    if pid is None:
        busy = [p for p in (port, controller_port) if port_open(p)]
        if busy:
            raise KafkaStartError(f"port(s) {busy} taken by a process that is not this stack's")
        libs = ensure_jars(version)
        properties = _render_properties(layout, port=port, controller_port=controller_port)
        _format_storage(libs, layout, properties)
        argv = [*_java(libs, layout, *JVM_OPTS), "kafka.Kafka", str(properties)]
        pid, _ = services.start(layout, NAME, argv)
    bootstrap = f"127.0.0.1:{configured_port(layout)}"
    _wait_ready(layout, pid, bootstrap, timeout)
    return bootstrap


def stop_kafka(home: Path | str | None = None) -> bool:
    """SIGTERM lets the broker shut down cleanly (no log recovery on the next start)."""
    return services.stop(Layout.at(home), NAME)
