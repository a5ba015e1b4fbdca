"""A burst client in its own process: ``concurrency`` keep-alive TLS connections post
AdmissionReviews back to back for ``seconds``; one JSON line per answer or error on stdout.

    python tests/faults/burst_client.py URL CA_FILE SECONDS CONCURRENCY CASES_JSON

CASES_JSON is a file of ``[{"name", "body", "allowed"}]``. HTTP/1.1 is written and read by hand
on asyncio streams: a general client (httpx) spends ≈9 ms of CPU per request, so on a shared
2-core host it, not the server, would be the bottleneck and its own queueing would pass for
server latency. Each connection is opened (TLS handshake) before the clock starts, as the API
server's connection pool would already hold them: the burst measures requests, not handshakes.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from urllib.parse import urlsplit

CLIENT_TIMEOUT_SECONDS = 10.0  # the default timeoutSeconds of a ValidatingWebhookConfiguration


def _request(host: str, body: bytes) -> bytes:
    return (f"POST /validate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _connection(url: str, context: ssl.SSLContext, cases: list[dict], offset: int,
                      opened: asyncio.Queue, start: asyncio.Event, until: list[float], out: list[dict]) -> None:
    parts = urlsplit(url)
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=context)
    except OSError as exc:
        out.append({"case": "connect", "error": type(exc).__name__, "seconds": 0.0})
        await opened.put(False)
        return
    await opened.put(True)
    requests = [(case, _request(parts.netloc, case["body"].encode())) for case in cases]
    await start.wait()
    index = offset
    try:
        while time.monotonic() < until[0]:
            case, raw = requests[index % len(requests)]
            index += 1
            started = time.monotonic()
            record: dict = {"case": case["name"], "started": started}
            try:
                writer.write(raw)
                status, headers, body = await asyncio.wait_for(_answer(reader), CLIENT_TIMEOUT_SECONDS)
                record["status"] = status
                record["retry_after"] = headers.get("retry-after")
                document = json.loads(body)
                if status == 200:
                    record["correct"] = document["response"]["allowed"] is case["allowed"]
                else:
                    record["reason"] = document.get("reason")
            except asyncio.TimeoutError:
                record["error"] = "timeout"
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                record["error"] = type(exc).__name__
            record["seconds"] = time.monotonic() - started
            out.append(record)
            if "error" in record:
                return
            if headers.get("connection", "").lower() == "close":
                record["closed"] = True
                return
    finally:
        writer.close()


async def main(url: str, ca: str, seconds: float, concurrency: int, cases: list[dict]) -> list[dict]:
    context = ssl.create_default_context(cafile=ca)
    out: list[dict] = []
    start, until, opened = asyncio.Event(), [0.0], asyncio.Queue()
    tasks = [asyncio.ensure_future(_connection(url, context, cases, i, opened, start, until, out))
             for i in range(concurrency)]
    for _ in range(concurrency):
        await opened.get()
    until[0] = time.monotonic() + seconds
    start.set()
    await asyncio.gather(*tasks)
    return out


if __name__ == "__main__":
    url, ca, seconds, concurrency, cases_file = sys.argv[1:6]
    with open(cases_file) as handle:
        cases = json.load(handle)
    for line in asyncio.run(main(url, ca, float(seconds), int(concurrency), cases)):
        print(json.dumps(line))
