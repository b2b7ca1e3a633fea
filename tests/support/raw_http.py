"""One HTTP/1.1 exchange over a plain socket, for requests an HTTP client would refuse to
send: any method token, any request target, any body."""

from __future__ import annotations

import socket


def exchange(
    url: str,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int | None, bytes]:
    """Send one request and read until the server closes; (status or None, raw response).
    None: the server closed the connection without a status line."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # closed with part of the request unread: what came before still counts
    status_line = answer.split(b"\r\n", 1)[0].split()
    if len(status_line) >= 2 and status_line[0].startswith(b"HTTP/") and status_line[1].isdigit():
        return int(status_line[1]), answer
    return None, answer
