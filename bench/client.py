"""The HTTP side of a measurement: the same requests, sent by 1 or several client threads.

Each client keeps one HTTP/1.1 connection (reconnecting after an error), reads every response
to its end, and records the latency of each request. A cell of measurements stops at its
count of requests or at its deadline, whichever comes first; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One HTTP request: a path with its query string, and headers."""

    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: bytes | None = None


@dataclass(frozen=True)
class Response:
    """What came back: status, body, time to the last byte (seconds), headers (lower-case names)."""

    status: int
    body: bytes
    seconds: float
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Cell:
    """The measurements of one workload on one side with a given number of clients."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    @property
    def throughput(self) -> float:
        """Successful requests per second of wall time."""
        return len(self.latencies) / self.wall if self.wall > 0 else 0.0

    def record(self, response: Response) -> None:
        """Count a 200 as a latency, anything else as an error with the start of its body."""
        if response.status == 200:
            self.latencies.append(response.seconds)
        else:
            snippet = response.body[:200].decode("utf-8", "replace")
            self.errors.append(f"HTTP {response.status}: {snippet}")


class Client:
    """One keep-alive connection to a loopback server."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.hostname != "127.0.0.1":
            raise ValueError(f"the benchmark only talks to 127.0.0.1, not {parts.hostname}")
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def send(self, request: Request) -> Response:
        """Send ``request`` and read the whole response; raise ``OSError`` on failure."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        begin = time.perf_counter()
        try:
            self.connection.request(
                request.method, request.path, body=request.body, headers=dict(request.headers)
            )
            response = self.connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise OSError(f"{type(e).__name__}: {e}") from e
        seconds = time.perf_counter() - begin
        if response.will_close:
            self.close()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, body, seconds, headers)

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def measure(
    base_url: str,
    requests: Sequence[Request],
    *,
    runs: int,
    clients: int,
    seconds: float,
    timeout: float,
    min_seconds: float = 0.0,
) -> Cell:
    """Send up to ``runs`` requests (cycling through ``requests``) from ``clients`` threads.

    Stops at ``runs`` requests or after ``seconds`` of wall time, whichever comes first (each
    client finishes the request it is in, bounded by ``timeout``); with ``min_seconds``, goes
    on past ``runs`` until the cell has lasted that long, so a cheap request gets more samples
    than a slow one. At least one request is sent. A status other than 200 counts as an error,
    not as a latency.
    """
    cell = Cell()
    counter = itertools.count()
    lock = threading.Lock()
    begin = time.perf_counter()
    deadline = begin + seconds
    enough = begin + min_seconds

    def work() -> None:
        client = Client(base_url, timeout=timeout)
        try:
            while True:
                with lock:
                    index = next(counter)
                now = time.perf_counter()
                if (index >= runs and now >= enough) or (index > 0 and now > deadline):
                    return
                request = requests[index % len(requests)]
                try:
                    response = client.send(request)
                except OSError as e:
                    with lock:
                        cell.errors.append(str(e))
                    continue
                with lock:
                    cell.record(response)
        finally:
            client.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + timeout + 30)
    cell.wall = time.perf_counter() - begin
    return cell


def measure_interleaved(
    sides: Sequence[tuple[str, Sequence[Request]]],
    *,
    runs: int,
    seconds: float,
    timeout: float,
    min_seconds: float = 0.0,
) -> list[Cell]:
    """Send the same requests to each side in turn from one client, side by side.

    ``sides`` gives each side's base URL and its requests (the same queries, each side's
    paths). Request ``i`` goes to every side before request ``i + 1`` goes to any, and the side
    that goes first rotates, so all sides meet the same moments of a shared machine's load. Up
    to ``runs`` rounds (more until ``min_seconds`` have passed), stopped after ``seconds`` of
    wall time (at least one round). Returns one :class:`Cell` per side, in the order of
    ``sides``; a cell's wall time is the time its side spent answering, so its throughput is
    that of one client on its own.
    """
    cells = [Cell() for _ in sides]
    clients = [Client(url, timeout=timeout) for url, _ in sides]
    begin = time.perf_counter()
    deadline = begin + seconds
    enough = begin + min_seconds
    try:
        for index in itertools.count():
            now = time.perf_counter()
            if (index >= runs and now >= enough) or (index > 0 and now > deadline):
                break
            order = [(index + k) % len(sides) for k in range(len(sides))]
            for which in order:
                requests = sides[which][1]
                cell = cells[which]
                begin = time.perf_counter()
                try:
                    response = clients[which].send(requests[index % len(requests)])
                except OSError as e:
                    cell.errors.append(str(e))
                    cell.wall += time.perf_counter() - begin
                    continue
                cell.wall += time.perf_counter() - begin
                cell.record(response)
    finally:
        for client in clients:
            client.close()
    return cells
